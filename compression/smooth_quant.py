"""SmoothQuant (Xiao et al., 2022): move activation outliers into the weights before INT8 W8A8.

Y = X W becomes (X diag(s)⁻¹)(diag(s) W) with s_j = max|X_j|^α / max|W_j|^(1−α). The division is folded
into the layer that produces X, so the network computes the same function in exact arithmetic:
  input_layernorm          -> q_proj, k_proj, v_proj
  post_attention_layernorm -> gate_proj, up_proj
  up_proj (output rows)    -> down_proj     (down's input is silu(gate) · up, linear in up)
o_proj is left alone: under GQA one v_proj row feeds several query heads' o_proj columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def smoothing_scales(act_absmax: torch.Tensor, weights: Sequence[torch.Tensor], alpha: float) -> torch.Tensor:
    """Per-input-channel s [in] from activation max |x| [in] and the consuming weights [out_i, in]."""
    w_max = torch.cat([w.detach().float() for w in weights]).abs().amax(dim=0).double().clamp_min(1e-5)
    act = act_absmax.double().clamp_min(1e-5)
    scales = act.pow(alpha) / w_max.pow(1.0 - alpha)
    # A channel never seen active gets no migration.
    return torch.where(act_absmax > 0, scales, torch.ones_like(scales)).clamp_min(1e-5)


def smooth_decoder_layer(layer: nn.Module, absmax: dict[str, torch.Tensor], alpha: float) -> dict[str, torch.Tensor]:
    """Apply the three migrations to one decoder layer in place; returns s per input ("attn", "mlp", "down").

    absmax has the per-channel max |x| of the inputs of q_proj ("attn"), gate_proj ("mlp") and
    down_proj ("down"), measured before smoothing.
    """
    attn, mlp = layer.self_attn, layer.mlp
    s_attn = smoothing_scales(absmax["attn"], [attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight], alpha)
    s_mlp = smoothing_scales(absmax["mlp"], [mlp.gate_proj.weight, mlp.up_proj.weight], alpha)
    s_down = smoothing_scales(absmax["down"], [mlp.down_proj.weight], alpha)
    with torch.no_grad():
        _scale_(layer.input_layernorm.weight, 1.0 / s_attn)
        for linear in (attn.q_proj, attn.k_proj, attn.v_proj):
            _scale_(linear.weight, s_attn.unsqueeze(0))
        _scale_(layer.post_attention_layernorm.weight, 1.0 / s_mlp)
        for linear in (mlp.gate_proj, mlp.up_proj):
            _scale_(linear.weight, s_mlp.unsqueeze(0))
        _scale_(mlp.up_proj.weight, (1.0 / s_down).unsqueeze(1))
        if mlp.up_proj.bias is not None:
            _scale_(mlp.up_proj.bias, 1.0 / s_down)
        _scale_(mlp.down_proj.weight, s_down.unsqueeze(0))
    return {"attn": s_attn, "mlp": s_mlp, "down": s_down}


def _scale_(param: torch.Tensor, factor: torch.Tensor) -> None:
    """param *= factor, computed in float64 and written back in param's dtype."""
    param.copy_((param.double() * factor).to(param.dtype))
