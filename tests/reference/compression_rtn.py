"""Plain round-to-nearest quantization: the baseline GPTQ must not lose to."""

from __future__ import annotations

import torch


def rtn_quantize(weight: torch.Tensor, num_bits: int, group_size: int | None) -> torch.Tensor:
    """Symmetric per-row (or per-group) round-to-nearest; returns the dequantized weights [out, in]."""
    w = weight.double()
    out, num_in = w.shape
    group = group_size or num_in
    qmax = 2 ** (num_bits - 1) - 1
    grouped = w.reshape(out, num_in // group, group)
    scale = (grouped.abs().amax(dim=2, keepdim=True) / qmax).clamp_min(1e-12)
    levels = torch.round(grouped / scale).clamp(-qmax - 1, qmax)
    return (levels * scale).reshape(out, num_in)
