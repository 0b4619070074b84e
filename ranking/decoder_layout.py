"""Where a decoder keeps its parts, one description per architecture: the single source every decoder walker reads.

The embedded engine (ranking/engine/model_runner.py), calibration, pruning, GPTQ and SmoothQuant (compression/)
all find layers, projections and norms here, so a new architecture is one entry in `LAYOUTS` and nothing else.
Anything not listed is refused up front with one line naming the architecture and the supported list.

Semantics the walkers must honour, per architecture:
* `norm_offset` 1.0: the RMSNorm scales by (1 + w) (Gemma family), so folding a factor into the norm changes
  (1 + w), not w.
* `mlp_norm`: the norm whose output feeds the MLP (`post_attention_layernorm` for Llama-like blocks; Gemma2/3 use
  that name for a norm on the attention *output* and feed the MLP from `pre_feedforward_layernorm`).
* fused projections (Phi3): one `qkv_proj` holds q, k, v rows; one `gate_up_proj` holds gate then up rows.
Run-time features (sliding windows, soft-caps, partial RoPE, per-layer RoPE) are read from the model config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn


class UnsupportedArchitectureError(ValueError):
    """The checkpoint's architecture has no layout here (one line: which, and what is supported)."""


@dataclass(frozen=True)
class DecoderLayout:
    """Submodule names inside one decoder layer (relative to the layer) and how its norms behave."""

    qkv: tuple[str, ...] = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj")
    o_proj: str = "self_attn.o_proj"
    gate_up: tuple[str, ...] = ("mlp.gate_proj", "mlp.up_proj")
    down_proj: str = "mlp.down_proj"
    attn_norm: str = "input_layernorm"
    mlp_norm: str = "post_attention_layernorm"
    attn_out_norm: str | None = None  # Gemma2/3: normalises the attention output before the residual add
    mlp_out_norm: str | None = None  # Gemma2/3: normalises the MLP output before the residual add
    norm_offset: float = 0.0  # 1.0 where the norm multiplies by (1 + w)
    has_qk_norm: bool = False  # per-head RMSNorm on q and k before RoPE (Qwen3, Gemma3)

    @property
    def is_fused(self) -> bool:
        """Phi3-style fused qkv_proj / gate_up_proj."""
        return len(self.qkv) == 1

    @property
    def attn_input(self) -> str:
        """The first linear reading the attention norm's output (its input statistics stand for q, k, v)."""
        return self.qkv[0]

    @property
    def mlp_input(self) -> str:
        """The first linear reading the MLP norm's output."""
        return self.gate_up[0]

    @property
    def linear_names(self) -> tuple[str, ...]:
        """Every linear of a layer, in forward order."""
        return (*self.qkv, self.o_proj, *self.gate_up, self.down_proj)

    @property
    def input_sources(self) -> dict[str, str]:
        """Linear -> the linear whose input it shares (so one Gram matrix serves both)."""
        shared = {name: self.qkv[0] for name in self.qkv} | {name: self.gate_up[0] for name in self.gate_up}
        return shared | {self.o_proj: self.o_proj, self.down_proj: self.down_proj}


_LLAMA = DecoderLayout()
_GEMMA2 = DecoderLayout(
    mlp_norm="pre_feedforward_layernorm",
    attn_out_norm="post_attention_layernorm",
    mlp_out_norm="post_feedforward_layernorm",
    norm_offset=1.0,
)
LAYOUTS: dict[str, DecoderLayout] = {
    "llama": _LLAMA,
    "mistral": _LLAMA,
    "qwen2": _LLAMA,
    "qwen3": DecoderLayout(has_qk_norm=True),
    "gemma": DecoderLayout(norm_offset=1.0),
    "gemma2": _GEMMA2,
    "gemma3_text": DecoderLayout(**{**_GEMMA2.__dict__, "has_qk_norm": True}),
    "phi3": DecoderLayout(qkv=("self_attn.qkv_proj",), gate_up=("mlp.gate_up_proj",)),
}
SUPPORTED_MODEL_TYPES = tuple(LAYOUTS)
_HINTS = {"gemma3": " (a multimodal Gemma3: save its text model, Gemma3ForCausalLM, and use that)"}


def decoder_layout(config: Any) -> DecoderLayout:
    """The layout for a transformers config (or a config.json dict); refuses unknown architectures in one line."""
    model_type = config.get("model_type") if isinstance(config, dict) else getattr(config, "model_type", None)
    if model_type in LAYOUTS:
        return LAYOUTS[model_type]
    arch = config.get("architectures") if isinstance(config, dict) else getattr(config, "architectures", None)
    named = f" ({', '.join(arch)})" if arch else ""
    raise UnsupportedArchitectureError(
        f"architecture {model_type!r}{named} is not supported{_HINTS.get(str(model_type), '')}; "
        f"supported: {', '.join(SUPPORTED_MODEL_TYPES)}"
    )


def model_layout(model: nn.Module) -> DecoderLayout:
    """The layout of a loaded causal LM (its config's model_type)."""
    return decoder_layout(getattr(model, "config", None))


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The decoder blocks of a supported causal LM (model.model.layers), after checking the architecture."""
    model_layout(model)
    inner = getattr(model, "model", model)
    layers = getattr(inner, "layers", None)
    if not isinstance(layers, nn.ModuleList):
        raise UnsupportedArchitectureError(f"{type(model).__name__} has no .model.layers decoder stack")
    return layers


def layer_prefixes(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(qualified name + ".", layer) for every decoder layer, in order."""
    layers = decoder_layers(model)
    names = {id(module): name for name, module in model.named_modules()}
    return [(names[id(layer)] + ".", layer) for layer in layers]


def sliding_window(config: Any, index: int) -> int | None:
    """Layer `index`'s attention window in tokens (a key is seen if query_pos - key_pos < window), None if full."""
    window = getattr(config, "sliding_window", None)
    if window is None:
        return None
    layer_types = getattr(config, "layer_types", None)
    if layer_types is not None:
        return int(window) if layer_types[index] == "sliding_attention" else None
    if getattr(config, "use_sliding_window", True) is False:
        return None
    return int(window)


def rope_layer_type(config: Any, index: int) -> str | None:
    """The key of a per-layer-type RoPE (Gemma3: local vs global base), None where one RoPE serves all layers."""
    parameters = getattr(config, "rope_parameters", None) or {}
    layer_types = getattr(config, "layer_types", None)
    if layer_types is not None and layer_types[index] in parameters:
        return str(layer_types[index])
    return None
