"""Plain reference: one full prompt at a time through transformers, log_softmax at the last position."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def plain_label_logprobs(model, prompts: Sequence[Sequence[int]], label_ids: Sequence[int]) -> list[list[float]]:
    """For each prompt, the full-vocab log-probs of `label_ids` as the next token (no batching, no cache)."""
    rows = []
    with torch.inference_mode():
        for prompt in prompts:
            ids = torch.tensor([list(prompt)], device=model.device)
            logits = model(input_ids=ids).logits[0, -1].float()
            logprobs = torch.log_softmax(logits, dim=-1)
            rows.append([float(logprobs[i]) for i in label_ids])
    return rows


def plain_probability(positive_logprob: float, negative_logprob: float) -> float:
    """P(yes) / (P(yes) + P(no)) computed literally from probabilities."""
    p_yes, p_no = torch.tensor(positive_logprob).exp(), torch.tensor(negative_logprob).exp()
    return float(p_yes / (p_yes + p_no))
