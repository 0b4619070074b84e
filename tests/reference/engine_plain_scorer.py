"""Plain reference for the engine: each full prompt alone through the transformers forward."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


@torch.inference_mode()
def plain_label_logprobs(
    model: Any, prefix_ids: Sequence[int], suffix_ids: Sequence[Sequence[int]], label_ids: Sequence[int]
) -> torch.Tensor:
    """[k, len(label_ids)] float32: log_softmax of the logits at the last token of prefix + suffix_i."""
    rows = []
    device = next(model.parameters()).device
    for suffix in suffix_ids:
        ids = torch.tensor([[*prefix_ids, *suffix]], device=device)
        logits = model(input_ids=ids).logits[0, -1].float()
        rows.append(torch.log_softmax(logits, dim=-1)[list(label_ids)])
    return torch.stack(rows).cpu()


@torch.inference_mode()
def plain_logits(model: Any, ids: Sequence[int]) -> torch.Tensor:
    """[T, V] float32 logits of one sequence."""
    device = next(model.parameters()).device
    return model(input_ids=torch.tensor([list(ids)], device=device)).logits[0].float().cpu()
