"""Brute-force AUC over every positive/negative pair: the plain reference for training.evaluation.auc."""

from __future__ import annotations

from collections.abc import Sequence


def pairwise_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Fraction of (positive, negative) pairs ranked correctly, ties counting one half."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return float("nan")
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))
