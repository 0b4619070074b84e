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


def layer_parts(segments: Sequence[TensorKVSegment], layer: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Keys and values [kv_heads, len, head_dim] of one layer, one pair per segment: views, never a copy."""
    return [(s.kv[layer, 0], s.kv[layer, 1]) for s in segments]


def bytes_per_token(num_layers: int, num_kv_heads: int, head_dim: int, dtype: torch.dtype) -> int:
    """KV bytes one cached token takes."""
    return num_layers * 2 * num_kv_heads * head_dim * torch.empty((), dtype=dtype).element_size()
