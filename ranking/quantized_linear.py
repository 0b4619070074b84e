"""Load compressed-tensors checkpoints (FP8 / INT8 W8A8, packed INT4 W4A16) into a Hugging Face model.

The offline pipeline (compression/) writes weights in the compressed-tensors format that SGLang and vLLM
load natively; this module lets the embedded engine and evaluation load the same files without the
compressed-tensors package. On CPU every quantized Linear is dequantized once to the compute dtype and,
for W8A8 schemes, inputs are quantized per token on the fly (quantize then dequantize), so scores match
what a W8A8 kernel computes up to accumulation order. On a CUDA GPU with FP8 support (compute capability
>= 8.9), FP8 layers keep their float8 weights and run torch._scaled_mm with per-token activation scales.

Format (config.json `quantization_config`, one config group targeting "Linear", lm_head ignored):
  float-quantized: `weight` float8_e4m3fn [out, in] + `weight_scale` [out, 1]
  int-quantized:   `weight` int8 [out, in] + `weight_scale` [out, 1] (+ `weight_zero_point` if asymmetric)
  pack-quantized:  `weight_packed` int32 [out, ceil(in·bits/32)] + `weight_scale` [out, in/group]
                   + `weight_shape` [2]; value v is stored offset-binary (v + 2^(bits-1)) at bits
                   bits·(i mod 32/bits) of word i·bits/32 (little-endian within the word).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

QUANT_METHOD = "compressed-tensors"
FORMATS = ("float-quantized", "int-quantized", "pack-quantized")
FP8_MAX = 448.0  # largest finite float8_e4m3fn


class QuantizedCheckpointError(ValueError):
    """A checkpoint's quantization config or tensors are not a format this loader understands."""


@dataclass(frozen=True)
class QuantArgs:
    """One tensor's quantization: compressed-tensors `QuantizationArgs`, the subset used here."""

    num_bits: int
    type: str  # "int" | "float"
    strategy: str  # "channel" | "group" | "token"
    symmetric: bool = True
    dynamic: bool = False
    group_size: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuantArgs:
        """Parse a config dict, ignoring informational keys (observer, actorder, ...)."""
        try:
            args = cls(
                num_bits=int(data["num_bits"]),
                type=str(data["type"]),
                strategy=str(data["strategy"]),
                symmetric=bool(data.get("symmetric", True)),
                dynamic=bool(data.get("dynamic", False)),
                group_size=None if data.get("group_size") in (None, -1) else int(data["group_size"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise QuantizedCheckpointError(f"bad quantization args {data!r}") from exc
        if args.type not in ("int", "float") or args.strategy not in ("channel", "group", "token", "tensor"):
            raise QuantizedCheckpointError(f"unsupported quantization args {data!r}")
        return args

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class QuantizationScheme:
    """A checkpoint's scheme: storage format, weight args, optional dynamic input-activation args."""

    format: str
    weights: QuantArgs
    input_activations: QuantArgs | None = None
    ignore: tuple[str, ...] = ("lm_head",)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> QuantizationScheme:
        """Parse config.json's `quantization_config` (single config group targeting Linear)."""
        if config.get("quant_method") != QUANT_METHOD:
            raise QuantizedCheckpointError(f"quant_method must be {QUANT_METHOD!r}")
        if config.get("format") not in FORMATS:
            raise QuantizedCheckpointError(f"format must be one of {FORMATS}, got {config.get('format')!r}")
        groups = config.get("config_groups") or {}
        if len(groups) != 1:
            raise QuantizedCheckpointError("exactly one config group is supported")
        group = next(iter(groups.values()))
        if group.get("targets") != ["Linear"]:
            raise QuantizedCheckpointError("only config groups targeting ['Linear'] are supported")
        acts = group.get("input_activations")
        return cls(
            format=config["format"],
            weights=QuantArgs.from_dict(group["weights"]),
            input_activations=QuantArgs.from_dict(acts) if acts else None,
            ignore=tuple(config.get("ignore") or ()),
        )

    def to_config(self) -> dict[str, Any]:
        """The `quantization_config` dict written into config.json."""
        acts = self.input_activations.to_dict() if self.input_activations else None
        group = {
            "targets": ["Linear"],
            "weights": self.weights.to_dict(),
            "input_activations": acts,
            "output_activations": None,
            "format": self.format,
        }
        return {
            "quant_method": QUANT_METHOD,
            "format": self.format,
            "quantization_status": "compressed",
            "ignore": list(self.ignore),
            "kv_cache_scheme": None,
            "config_groups": {"group_0": group},
        }


def unpack_int32(packed: torch.Tensor, num_bits: int, shape: tuple[int, int]) -> torch.Tensor:
    """Offset-binary values packed along the input dim [out, words] -> signed int8 [out, in]."""
    if packed.dtype != torch.int32 or 32 % num_bits:
        raise QuantizedCheckpointError(f"cannot unpack {packed.dtype} with {num_bits} bits")
    per_word = 32 // num_bits
    shifts = torch.arange(per_word, dtype=torch.int32) * num_bits
    mask = (1 << num_bits) - 1
    values = (packed.unsqueeze(-1) >> shifts) & mask  # arithmetic shift; the mask drops sign bits
    values = values.reshape(packed.shape[0], -1)[:, : shape[1]]
    return (values - (1 << (num_bits - 1))).to(torch.int8)


def dequantize_weight(tensors: dict[str, torch.Tensor], scheme: QuantizationScheme, dtype: torch.dtype) -> torch.Tensor:
    """A layer's stored tensors (local names: weight, weight_scale, ...) -> dense weight [out, in]."""
    scale = tensors["weight_scale"].float()
    if scheme.format == "pack-quantized":
        shape = tuple(int(v) for v in tensors["weight_shape"].tolist())
        values = unpack_int32(tensors["weight_packed"], scheme.weights.num_bits, (shape[0], shape[1])).float()
    else:
        values = tensors["weight"].float()
    zero = tensors.get("weight_zero_point")
    if zero is not None:
        values = values - _expand(zero.float(), values.shape[1])
    return (values * _expand(scale, values.shape[1])).to(dtype)


def _expand(per_group: torch.Tensor, num_inputs: int) -> torch.Tensor:
    """Scales [out, 1] or [out, groups] broadcast to [out, in]."""
    if per_group.shape[1] in (1, num_inputs):
        return per_group
    return per_group.repeat_interleave(num_inputs // per_group.shape[1], dim=1)


def quantize_activations(x: torch.Tensor, args: QuantArgs) -> torch.Tensor:
    """Dynamic per-token symmetric quantize-dequantize of x [..., in] (int8 or float8_e4m3fn)."""
    amax = x.abs().amax(dim=-1, keepdim=True).float().clamp_min(1e-12)
    if args.type == "float":
        scale = amax / FP8_MAX
        q = (x.float() / scale).clamp(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn).float()
    else:
        # compressed-tensors' convention (what HF applies to these checkpoints): max |x| maps to half the
        # integer range, 127.5 for int8, and the one level beyond qmax is clamped.
        qmax = 2 ** (args.num_bits - 1) - 1
        scale = amax / (qmax + 0.5)
        q = torch.round(x.float() / scale).clamp(-qmax - 1, qmax)
    return (q * scale).to(x.dtype)


class QuantizedLinear(nn.Module):
    """A Linear whose weights came from a quantized checkpoint; simulates or runs W8A8 activations."""

    def __init__(
        self,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        act_args: QuantArgs | None,
        fp8: tuple[torch.Tensor, torch.Tensor] | None = None,
    ):
        """weight [out, in] dequantized; fp8 = (float8 weight [out, in], scale [out, 1]) for _scaled_mm."""
        super().__init__()
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias, requires_grad=False)
        self.act_args = act_args
        self.fp8 = fp8
        self.in_features, self.out_features = weight.shape[1], weight.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fp8 is not None and x.is_cuda:
            return self._scaled_mm(x)
        if self.act_args is not None:
            x = quantize_activations(x, self.act_args)
        return F.linear(x, self.weight, self.bias)

    def _scaled_mm(self, x: torch.Tensor) -> torch.Tensor:
        """FP8 GEMM with row-wise scales: per-token activations times per-channel weights."""
        assert self.fp8 is not None
        w_fp8, w_scale = self.fp8
        flat = x.reshape(-1, x.shape[-1])
        x_scale = flat.abs().amax(dim=-1, keepdim=True).float().clamp_min(1e-12) / FP8_MAX
        x_fp8 = (flat.float() / x_scale).clamp(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn)
        out = torch._scaled_mm(x_fp8, w_fp8.t(), scale_a=x_scale, scale_b=w_scale.float().t(), out_dtype=torch.bfloat16)
        if self.bias is not None:
            out = out + self.bias.to(out.dtype)
        return out.to(x.dtype).reshape(*x.shape[:-1], -1)


def has_fp8_gemm(device: torch.device) -> bool:
    """CUDA device with FP8 tensor cores (Ada / Hopper and newer)."""
    return device.type == "cuda" and torch.cuda.is_available() and torch.cuda.get_device_capability(device) >= (8, 9)


def read_quantization_config(model_dir: str | Path) -> dict[str, Any] | None:
    """config.json's quantization_config, or None for an unquantized checkpoint."""
    data = json.loads((Path(model_dir) / "config.json").read_text())
    return data.get("quantization_config")


def load_quantized_model(
    model_dir: str | Path, dtype: torch.dtype = torch.float32, device: str = "cpu", simulate_activations: bool = True
) -> nn.Module:
    """A compressed-tensors checkpoint as a HF causal LM with QuantizedLinear layers, in eval mode."""
    from transformers import AutoConfig, AutoModelForCausalLM

    raw = read_quantization_config(model_dir)
    if raw is None:
        raise QuantizedCheckpointError(f"{model_dir} has no quantization_config in config.json")
    scheme = QuantizationScheme.from_config(raw)
    config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the dense skeleton must not try to build a quantizer
    model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    tensors = _read_tensors(Path(model_dir))
    target = torch.device(device)
    layers = _group_quantized(tensors)
    for name, local in layers.items():
        _install(model, name, local, scheme, dtype, target, simulate_activations)
    rest = {k: v for k, v in tensors.items() if k.rsplit(".", 1)[0] not in layers}
    missing, unexpected = model.load_state_dict(rest, strict=False)
    missing = [k for k in missing if k.rsplit(".", 1)[0] not in layers]
    if getattr(config, "tie_word_embeddings", False):
        missing = [k for k in missing if not k.startswith("lm_head.")]
    if missing or unexpected:
        raise QuantizedCheckpointError(f"checkpoint mismatch: missing {missing[:4]}, unexpected {unexpected[:4]}")
    return model.to(target).eval()


def _read_tensors(model_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise QuantizedCheckpointError(f"no .safetensors files in {model_dir}")
    tensors: dict[str, torch.Tensor] = {}
    for path in files:
        tensors.update(load_file(str(path)))
    return tensors


def _group_quantized(tensors: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """Module name -> its local tensors, for every module that has a weight_scale."""
    names = [k[: -len(".weight_scale")] for k in tensors if k.endswith(".weight_scale")]
    return {n: {k[len(n) + 1 :]: v for k, v in tensors.items() if k.rsplit(".", 1)[0] == n} for n in names}


def _install(
    model: nn.Module,
    name: str,
    local: dict[str, torch.Tensor],
    scheme: QuantizationScheme,
    dtype: torch.dtype,
    device: torch.device,
    simulate_activations: bool,
) -> None:
    """Replace the Linear `name` by a QuantizedLinear built from its stored tensors."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name)
    old = getattr(parent, child)
    if not isinstance(old, nn.Linear):
        raise QuantizedCheckpointError(f"{name} is quantized in the checkpoint but is not a Linear")
    weight = dequantize_weight(local, scheme, dtype)
    if tuple(weight.shape) != (old.out_features, old.in_features):
        raise QuantizedCheckpointError(f"{name}: stored shape {tuple(weight.shape)} does not match the config")
    fp8 = None
    # _scaled_mm wants both GEMM dims in multiples of 16; smaller or odd layers take the simulated path.
    is_aligned = old.in_features % 16 == 0 and old.out_features % 16 == 0
    if scheme.format == "float-quantized" and is_aligned and has_fp8_gemm(device):
        fp8 = (local["weight"].to(device), local["weight_scale"].float().to(device))
    bias = local.get("bias")
    acts = scheme.input_activations if simulate_activations else None
    setattr(parent, child, QuantizedLinear(weight, None if bias is None else bias.to(dtype), acts, fp8))
