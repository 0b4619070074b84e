"""The plain-transformers baselines of bench/prefill_shapes.py: what a user without this engine would write."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ranking.scorer import ScoreBatch


def _label_logprobs(logits: torch.Tensor, label_ids: tuple[int, ...]) -> list[list[float]]:
    """logits [n, vocab] of the last position -> the label ids' log-probs per row."""
    return torch.log_softmax(logits.float(), dim=-1)[:, list(label_ids)].tolist()


@torch.inference_mode()
def full_prompt_scores(model: nn.Module, batch: ScoreBatch) -> list[list[float]]:
    """(a): every candidate's whole prompt (prefix + suffix) through the model, one at a time."""
    device = next(model.parameters()).device
    rows = []
    for suffix in batch.suffix_ids:
        ids = torch.tensor([batch.prefix_ids + suffix], device=device)
        logits = model(input_ids=ids, logits_to_keep=1).logits[:, -1]
        rows += _label_logprobs(logits, batch.label_ids)
    return rows


@torch.inference_mode()
def prefix_reuse_scores(model: nn.Module, batch: ScoreBatch, max_kv_bytes: float) -> list[list[float]]:
    """(b): the prefix's past_key_values computed once, expanded over the suffixes (all of equal length here).

    transformers' cache concatenates each new token's KV onto the expanded prefix, which materialises one prefix
    copy per row, so candidates go in chunks whose copies fit `max_kv_bytes`."""
    from transformers import DynamicCache

    device = next(model.parameters()).device
    prefix = torch.tensor([batch.prefix_ids], device=device)
    cache = model(input_ids=prefix, use_cache=True, logits_to_keep=1).past_key_values
    layers = [(layer.keys, layer.values) for layer in cache.layers]
    per_row = sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in layers)
    chunk = max(1, int(max_kv_bytes // max(per_row, 1)))
    suffixes = torch.tensor(batch.suffix_ids, device=device)
    rows: list[list[float]] = []
    for start in range(0, len(suffixes), chunk):
        part = suffixes[start : start + chunk]
        expanded = DynamicCache(
            ddp_cache_data=[(k.expand(len(part), -1, -1, -1), v.expand(len(part), -1, -1, -1)) for k, v in layers]
        )
        logits = model(input_ids=part, past_key_values=expanded, use_cache=True, logits_to_keep=1).logits[:, -1]
        rows += _label_logprobs(logits, batch.label_ids)
    return rows


def kv_bytes_per_token(model: Any) -> int:
    """Bytes of K and V one cached token takes across all layers, in the model's dtype."""
    c = model.config
    head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    element = next(model.parameters()).element_size()
    return 2 * c.num_hidden_layers * c.num_key_value_heads * head_dim * element
