"""The KV of a run of prompt tokens for every layer, as one tensor a radix node owns."""

from __future__ import annotations

from collections.abc import Sequence

import torch


class TensorKVSegment:
    """Keys and values of `len` consecutive tokens: `kv` is [layers, 2, kv_heads, len, head_dim]."""

    def __init__(self, kv: torch.Tensor) -> None:
        if kv.dim() != 5 or kv.shape[1] != 2:
            raise ValueError("TensorKVSegment expects a [layers, 2, kv_heads, len, head_dim] tensor")
        self.kv = kv

    @property
    def nbytes(self) -> int:
        return self.kv.numel() * self.kv.element_size()

    def __len__(self) -> int:
        return int(self.kv.shape[3])

    def split(self, at: int) -> tuple[TensorKVSegment, TensorKVSegment]:
        """Two segments of `at` and len - `at` tokens; copies, so evicting one half frees its memory."""
        head = self.kv[:, :, :, :at].clone()
        tail = self.kv[:, :, :, at:].clone()
        return TensorKVSegment(head), TensorKVSegment(tail)


def layer_kv(segments: Sequence[TensorKVSegment], layer: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Keys and values [kv_heads, total_len, head_dim] of one layer over consecutive segments (None if empty)."""
    if not segments:
        return None
    if len(segments) == 1:  # the usual repeat-member case: a view, no copy
        kv = segments[0].kv[layer]
        return kv[0], kv[1]
    kv = torch.cat([s.kv[layer] for s in segments], dim=2)
    return kv[0], kv[1]


def bytes_per_token(num_layers: int, num_kv_heads: int, head_dim: int, dtype: torch.dtype) -> int:
    """KV bytes one cached token takes."""
    return num_layers * 2 * num_kv_heads * head_dim * torch.empty((), dtype=dtype).element_size()
