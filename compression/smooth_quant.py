"""SmoothQuant (Xiao et al., 2022): move activation outliers into the weights before INT8 W8A8.

Y = X W becomes (X diag(s)⁻¹)(diag(s) W) with s_j = max|X_j|^α / max|W_j|^(1−α). The division is folded
into the layer that produces X, so the network computes the same function in exact arithmetic. Which layer
that is comes from the architecture's DecoderLayout (ranking/decoder_layout.py):
  attention norm (input_layernorm)          -> q, k, v (or Phi3's fused qkv_proj)
  MLP norm (post_attention_layernorm; Gemma2/3: pre_feedforward_layernorm) -> gate, up (or gate_up_proj)
  up rows (output side)                     -> down_proj   (down's input is act(gate) · up, linear in up)
A norm that scales by (offset + w) (Gemma: 1 + w) gets (offset + w) / s, not w / s.
o_proj is left alone: under GQA one v_proj row feeds several query heads' o_proj columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ranking.decoder_layout import DecoderLayout


def smoothing_scales(act_absmax: torch.Tensor, weights: Sequence[torch.Tensor], alpha: float) -> torch.Tensor:
    """Per-input-channel s [in] from activation max |x| [in] and the consuming weights [out_i, in]."""
    w_max = torch.cat([w.detach().float() for w in weights]).abs().amax(dim=0).double().clamp_min(1e-5)
    act = act_absmax.double().clamp_min(1e-5)
    scales = act.pow(alpha) / w_max.pow(1.0 - alpha)
    # A channel never seen active gets no migration.
    return torch.where(act_absmax > 0, scales, torch.ones_like(scales)).clamp_min(1e-5)


def smooth_decoder_layer(
    layer: nn.Module, layout: DecoderLayout, absmax: dict[str, torch.Tensor], alpha: float
) -> dict[str, torch.Tensor]:
    """Apply the three migrations to one decoder layer in place; returns s per input ("attn", "mlp", "down").

    absmax has the per-channel max |x| of the inputs of the attention projections ("attn"), the MLP's
    gate/up ("mlp") and down_proj ("down"), measured before smoothing.
    """
    # HF submodules: their weights and sizes are attributes nn.Module does not declare.
    qkv: list[Any] = [layer.get_submodule(name) for name in layout.qkv]
    gate_up: list[Any] = [layer.get_submodule(name) for name in layout.gate_up]
    down: Any = layer.get_submodule(layout.down_proj)
    s_attn = smoothing_scales(absmax["attn"], [linear.weight for linear in qkv], alpha)
    s_mlp = smoothing_scales(absmax["mlp"], [linear.weight for linear in gate_up], alpha)
    s_down = smoothing_scales(absmax["down"], [down.weight], alpha)
    with torch.no_grad():
        _fold_into_norm(layer.get_submodule(layout.attn_norm), 1.0 / s_attn, layout.norm_offset)
        for linear in qkv:
            _scale_(linear.weight, s_attn.unsqueeze(0))
        _fold_into_norm(layer.get_submodule(layout.mlp_norm), 1.0 / s_mlp, layout.norm_offset)
        for linear in gate_up:
            _scale_(linear.weight, s_mlp.unsqueeze(0))
        up, rows = _up_rows(gate_up, down.in_features)
        _scale_(up.weight[rows], (1.0 / s_down).unsqueeze(1))
        if up.bias is not None:
            _scale_(up.bias[rows], 1.0 / s_down)
        _scale_(down.weight, s_down.unsqueeze(0))
    return {"attn": s_attn, "mlp": s_mlp, "down": s_down}


def _up_rows(gate_up: list[Any], width: int) -> tuple[Any, slice]:
    """The linear holding the up projection and its rows: up_proj whole, or the second half of gate_up_proj."""
    if len(gate_up) == 1:
        return gate_up[0], slice(width, 2 * width)
    return gate_up[1], slice(0, width)


def _fold_into_norm(norm: Any, factor: torch.Tensor, offset: float) -> None:
    """Make the norm's output scale by `factor`: (offset + w) -> (offset + w) · factor."""
    weight = norm.weight
    weight.copy_(((weight.double() + offset) * factor - offset).to(weight.dtype))


def _scale_(param: torch.Tensor, factor: torch.Tensor) -> None:
    """param *= factor, computed in float64 and written back in param's dtype (views write through)."""
    param.copy_((param.double() * factor).to(param.dtype))
