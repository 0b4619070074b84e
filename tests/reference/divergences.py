"""Plain float64 divergences and the RecSys KD objective written from their definitions (for training tests)."""

from __future__ import annotations

import math

import torch


def softmax_rows(logits: torch.Tensor, temperature: float = 1.0) -> list[list[float]]:
    """Row-wise softmax of logits / temperature as Python floats."""
    rows = []
    for row in logits.double().tolist():
        scaled = [x / temperature for x in row]
        top = max(scaled)
        exps = [math.exp(x - top) for x in scaled]
        total = sum(exps)
        rows.append([e / total for e in exps])
    return rows


def kl(p: list[float], q: list[float]) -> float:
    """KL(p || q) = sum p log(p / q), with 0 log 0 = 0."""
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q, strict=True) if pi > 0)


def generalized_jsd(student: torch.Tensor, teacher: torch.Tensor, beta: float, temperature: float = 1.0) -> float:
    """Mean over rows of JSD(beta) as TRL defines it: beta 0 = KL(T||S), beta 1 = KL(S||T)."""
    total = 0.0
    s_rows, t_rows = softmax_rows(student, temperature), softmax_rows(teacher, temperature)
    for s, t in zip(s_rows, t_rows, strict=True):
        if beta == 0:
            total += kl(t, s)
        elif beta == 1:
            total += kl(s, t)
        else:
            m = [beta * ti + (1 - beta) * si for si, ti in zip(s, t, strict=True)]
            total += beta * kl(t, m) + (1 - beta) * kl(s, m)
    return total / len(s_rows)


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean -log softmax(logits)[target]."""
    rows = softmax_rows(logits)
    return sum(-math.log(row[t]) for row, t in zip(rows, targets.tolist(), strict=True)) / len(rows)
