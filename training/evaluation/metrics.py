"""Ranking and calibration metrics beyond AUC: per-member NDCG@k, log loss and expected calibration error."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

EPS = 1e-7


def rows_by_member(member_ids: Sequence[str] | np.ndarray) -> list[list[int]]:
    """Indices of each member's candidates, members in order of first appearance."""
    by_member: dict[str, list[int]] = defaultdict(list)
    for i, m in enumerate(member_ids):
        by_member[str(m)].append(i)
    return list(by_member.values())


def ndcg_at_k(member_ids: Sequence[str] | np.ndarray, scores: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Mean over members with at least one positive of DCG@k / ideal DCG@k (binary gains, ties by order)."""
    values = []
    for idx in rows_by_member(member_ids):
        y = np.asarray(labels, dtype=bool)[idx]
        if not y.any():
            continue
        order = np.argsort(-np.asarray(scores, dtype=np.float64)[idx], kind="stable")[:k]
        discounts = 1.0 / np.log2(np.arange(2, k + 2))
        dcg = float((y[order] * discounts[: order.size]).sum())
        ideal = float(discounts[: min(int(y.sum()), k)].sum())
        values.append(dcg / ideal)
    return float(np.mean(values)) if values else float("nan")


def log_loss(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean binary cross-entropy of P(positive) (clipped to [1e-7, 1 - 1e-7])."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), EPS, 1 - EPS)
    y = np.asarray(labels, dtype=bool)
    if not y.size:
        return float("nan")
    return float(-np.mean(np.where(y, np.log(p), np.log1p(-p))))


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, num_bins: int = 10) -> float:
    """Sum over equal-width probability bins of (bin share) x |mean predicted - positive rate|."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, 1.0)
    y = np.asarray(labels, dtype=np.float64)
    if not y.size:
        return float("nan")
    bins = np.minimum((p * num_bins).astype(int), num_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        inside = bins == b
        total += inside.mean() * abs(p[inside].mean() - y[inside].mean())
    return float(total)


def sigmoid(log_odds: np.ndarray) -> np.ndarray:
    """P(positive label) from the model's label log-odds."""
    return 1.0 / (1.0 + np.exp(-np.asarray(log_odds, dtype=np.float64)))
