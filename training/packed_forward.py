"""Forward passes over a PackedBatch: hidden states once, logits only where a loss or a score needs them.

The full (B, L, V) logits are never built: the label terms need N rows and the sequence-level term a sample of
positions, so the LM head runs on just those rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from training.packed_batch import IGNORE, PackedBatch


def packed_hidden(model, batch: PackedBatch) -> torch.Tensor:
    """(B*L, H) final hidden states of a causal LM (`model.model` body) under the packed block mask."""
    device = next(model.parameters()).device
    mask = batch.attention_mask.to(device)
    out = model.model(
        input_ids=batch.input_ids.to(device),
        attention_mask=mask,
        position_ids=batch.position_ids.to(device),
        use_cache=False,
    )
    hidden = out.last_hidden_state
    return hidden.reshape(-1, hidden.shape[-1])


def rows_logits(model, hidden: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """(len(index), V) float32 logits of the selected flat positions."""
    return model.lm_head(hidden[index.to(hidden.device)]).float()


def sequence_positions(
    batch: PackedBatch, per_row: int, generator: torch.Generator | Sequence[torch.Generator] | None
) -> torch.Tensor:
    """Flat indices of up to `per_row` random non-pad positions per row (all of them if per_row <= 0).

    One generator for all rows, or one per row (then a row's sample does not depend on the batch it is in)."""
    valid = batch.next_ids != IGNORE
    width = valid.shape[1]
    picks = []
    for b in range(valid.shape[0]):
        cols = valid[b].nonzero().squeeze(1)
        if 0 < per_row < cols.numel():
            row_gen = generator[b] if isinstance(generator, Sequence) else generator
            cols = cols[torch.randperm(cols.numel(), generator=row_gen)[:per_row]].sort().values
        picks.append(cols + b * width)
    return torch.cat(picks) if picks else torch.zeros(0, dtype=torch.long)


def label_log_odds(label_logits: torch.Tensor, batch: PackedBatch) -> torch.Tensor:
    """(N,) log P(positive) - log P(negative) under the full-vocabulary softmax (the service's log_odds)."""
    logprobs = label_logits.log_softmax(-1)
    pos = logprobs.gather(1, batch.positive_ids.to(logprobs.device).unsqueeze(1)).squeeze(1)
    neg = logprobs.gather(1, batch.negative_ids.to(logprobs.device).unsqueeze(1)).squeeze(1)
    return pos - neg
