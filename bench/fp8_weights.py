"""FP8 weights for a random benchmark model, in memory: the decoder's Linears become the engine's QuantizedLinear
with row-wise float8_e4m3fn weights (run by `torch._scaled_mm` on FP8 GPUs, dequantised elsewhere)."""

from __future__ import annotations

import torch
from torch import nn

from ranking.quantized_linear import FP8_MAX, QuantizedLinear


@torch.no_grad()
def to_fp8_weights(model: nn.Module) -> int:
    """Replace every Linear under model.model.layers by an FP8 QuantizedLinear; returns how many were replaced."""
    replaced = 0
    for name, module in list(model.model.layers.named_modules()):
        if not isinstance(module, nn.Linear):
            continue
        weight = module.weight
        scale = weight.abs().amax(dim=1, keepdim=True).float().clamp_min(1e-12) / FP8_MAX
        w_fp8 = (weight.float() / scale).clamp(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn)
        dequant = (w_fp8.float() * scale).to(weight.dtype)
        parent_name, _, child = name.rpartition(".")
        parent = model.model.layers.get_submodule(parent_name) if parent_name else model.model.layers
        setattr(parent, child, QuantizedLinear(dequant, module.bias, None, (w_fp8, scale)))
        replaced += 1
    return replaced
