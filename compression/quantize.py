"""Post-training quantization of every decoder Linear (lm_head and embeddings stay in the model dtype).

Schemes (the compressed-tensors presets SGLang and vLLM serve):
  fp8_dynamic  FP8 e4m3 weights, one scale per output channel; activations FP8 per token at run time.
               Data-free: round-to-nearest in FP8 is already within ~3% relative per weight.
  w8a8_int8    SmoothQuant migration, then GPTQ to INT8 per output channel; activations INT8 per token.
  w4a16        GPTQ to INT4 with one scale per `group_size` inputs; activations stay in the model dtype.
The model is changed in place only by SmoothQuant (norm and weight rescaling that keeps its function);
the quantized weights are returned for compression.export to write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import nn

from compression.calibration import Calibration, CalibrationConfig
from compression.gptq import GptqConfig, gptq_quantize, round_to_grid, symmetric_scale
from compression.smooth_quant import smooth_decoder_layer
from ranking.decoder_layout import DecoderLayout, layer_prefixes, model_layout
from ranking.quantized_linear import FP8_MAX, QuantArgs, QuantizationScheme

SCHEMES = ("fp8_dynamic", "w8a8_int8", "w4a16")
GROUP_SIZES = (128, 64, 32, 16, 8)  # W4A16 group sizes the serving kernels take, largest first


@dataclass(frozen=True)
class QuantizeConfig:
    """Which scheme, and the knobs of its calibration-based steps."""

    scheme: str = "fp8_dynamic"
    group_size: int = 128  # w4a16 only
    smoothing_strength: float = 0.8  # w8a8_int8 only; 0 skips SmoothQuant
    use_gptq: bool = True  # False: round-to-nearest (the ablation GPTQ is measured against)
    damp: float = 0.01
    max_seq_len: int = 1024

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {self.scheme!r}")
        if not 0.0 <= self.smoothing_strength < 1.0:
            raise ValueError("smoothing_strength must be in [0, 1)")

    @property
    def needs_calibration(self) -> bool:
        is_smoothed = self.scheme == "w8a8_int8" and self.smoothing_strength > 0
        return (self.scheme != "fp8_dynamic" and self.use_gptq) or is_smoothed

    def to_scheme(self) -> QuantizationScheme:
        """The compressed-tensors description of this scheme."""
        if self.scheme == "fp8_dynamic":
            return QuantizationScheme(
                "float-quantized", QuantArgs(8, "float", "channel"), QuantArgs(8, "float", "token", dynamic=True)
            )
        if self.scheme == "w8a8_int8":
            return QuantizationScheme(
                "int-quantized", QuantArgs(8, "int", "channel"), QuantArgs(8, "int", "token", dynamic=True)
            )
        return QuantizationScheme("pack-quantized", QuantArgs(4, "int", "group", group_size=self.group_size))


@dataclass(frozen=True)
class QuantizedLayer:
    """A Linear's stored form: values [out, in] (int8 levels or float8_e4m3fn) and scales [out, groups]."""

    values: torch.Tensor
    scale: torch.Tensor
    bias: torch.Tensor | None = None

    def dequantize(self) -> torch.Tensor:
        """Float32 weights [out, in]."""
        repeat = self.values.shape[1] // self.scale.shape[1]
        return self.values.float() * self.scale.float().repeat_interleave(repeat, dim=1)


def quantize_model(
    model: nn.Module, sequences: Sequence[Sequence[int]], config: QuantizeConfig, progress: bool = False
) -> dict[str, QuantizedLayer]:
    """Quantize every decoder Linear of `model`; returns module name -> QuantizedLayer."""
    layout = model_layout(model)
    linears = decoder_linears(model)
    if config.scheme == "w4a16":
        bad = [n for n, m in linears.items() if m.in_features % config.group_size]
        if bad:
            raise ValueError(f"in_features not a multiple of group_size {config.group_size}: {bad[:3]}")
    grams: dict[str, torch.Tensor] = {}
    if config.needs_calibration:
        grams = _calibrated_grams(model, sequences, config, progress)
    out: dict[str, QuantizedLayer] = {}
    for name, linear in _progress(linears.items(), progress):
        gram = grams.get(_gram_key(name, layout))
        out[name] = quantize_linear(linear, gram, config)
    return out


def fitted_group_size(model: nn.Module, preferred: int) -> int:
    """The largest group size <= preferred dividing every decoder Linear's input width (small models need < 128)."""
    widths = {linear.in_features for linear in decoder_linears(model).values()}
    for size in GROUP_SIZES:
        if size <= preferred and all(w % size == 0 for w in widths):
            return size
    raise ValueError(
        f"no W4A16 group size in {GROUP_SIZES} divides the input widths {sorted(widths)}; "
        "prune with a neuron multiple (e.g. --neuron-multiple 8) so the widths stay aligned"
    )


def quantize_linear(linear: nn.Linear, gram: torch.Tensor | None, config: QuantizeConfig) -> QuantizedLayer:
    """One Linear under the configured scheme (gram [in, in] for GPTQ; None means round-to-nearest)."""
    weight = linear.weight.detach().float()
    bias = None if linear.bias is None else linear.bias.detach().clone()
    if config.scheme == "fp8_dynamic":
        values, scale = fp8_quantize(weight)
        return QuantizedLayer(values, scale, bias)
    bits, group = (8, None) if config.scheme == "w8a8_int8" else (4, config.group_size)
    if gram is not None and config.use_gptq:
        gptq = GptqConfig(num_bits=bits, group_size=group, damp=config.damp, block_size=max(128, group or 0))
        levels, scale = gptq_quantize(weight, gram, gptq)
        return QuantizedLayer(levels, scale, bias)
    return QuantizedLayer(*rtn_quantize(weight, bits, group), bias)


def fp8_quantize(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-output-channel FP8: (float8_e4m3fn [out, in], scale [out, 1]) with max |w| -> 448."""
    scale = (weight.abs().amax(dim=1, keepdim=True).float() / FP8_MAX).clamp_min(1e-12)
    return (weight.float() / scale).clamp(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn), scale


def rtn_quantize(weight: torch.Tensor, num_bits: int, group_size: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric round-to-nearest: (int8 levels [out, in], scales [out, groups])."""
    out, num_in = weight.shape
    group = group_size or num_in
    grouped = weight.double().reshape(out * (num_in // group), group)
    scale = symmetric_scale(grouped, num_bits)
    levels = round_to_grid(grouped, scale, num_bits).reshape(out, num_in)
    return levels.to(torch.int8), scale.reshape(out, num_in // group).float()


def _calibrated_grams(
    model: nn.Module, sequences: Sequence[Sequence[int]], config: QuantizeConfig, progress: bool
) -> dict[str, torch.Tensor]:
    """Gram matrices of the distinct Linear inputs per layer, after SmoothQuant when it applies."""
    layout = model_layout(model)
    is_smoothed = config.scheme == "w8a8_int8" and config.smoothing_strength > 0
    targets = tuple(dict.fromkeys(layout.input_sources.values()))
    cal_config = CalibrationConfig(targets=targets, max_seq_len=config.max_seq_len, track_absmax=is_smoothed)
    calibration = Calibration.capture(model, sequences, cal_config, progress=progress)
    grams = {name: stats.gram for name, stats in calibration.stats.items()}
    if is_smoothed:
        smoothed = _smoothed_inputs(layout)
        for prefix, layer in layer_prefixes(model):
            absmax = {key: calibration.stats[prefix + target].absmax for key, target in smoothed.items()}
            scales = smooth_decoder_layer(layer, layout, absmax, config.smoothing_strength)
            for key, target in smoothed.items():
                # Inputs became X diag(s)⁻¹, so H becomes diag(s)⁻¹ H diag(s)⁻¹.
                inv = 1.0 / scales[key]
                grams[prefix + target] = grams[prefix + target] * inv.unsqueeze(0) * inv.unsqueeze(1)
    return grams


def _smoothed_inputs(layout: DecoderLayout) -> dict[str, str]:
    """SmoothQuant's three migrated inputs -> the linear whose input statistics describe each."""
    return {"attn": layout.attn_input, "mlp": layout.mlp_input, "down": layout.down_proj}


def decoder_linears(model: nn.Module) -> dict[str, nn.Linear]:
    """Every decoder Linear of a supported architecture, by qualified name (lm_head and embeddings excluded)."""
    layout = model_layout(model)
    found = {}
    for prefix, layer in layer_prefixes(model):
        for local in layout.linear_names:
            found[prefix + local] = cast(nn.Linear, layer.get_submodule(local))
    return found


def _gram_key(name: str, layout: DecoderLayout) -> str:
    """The calibrated input a Linear shares (k/v read q's input, up reads gate's)."""
    prefix, _, local = name.partition(".layers.")
    index, _, sub = local.partition(".")
    return f"{prefix}.layers.{index}.{layout.input_sources.get(sub, sub)}"


def _progress(items: Any, enabled: bool) -> Any:
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(list(items), desc="quantizing", unit="linear")
