"""ROC AUC: global (all candidates of a task pooled, the headline metric) and per-member mean."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence

import numpy as np


def roc_auc(scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray) -> float:
    """P(score of a random positive > score of a random negative), ties counted half (Mann-Whitney U)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    if s.shape != y.shape:
        raise ValueError(f"scores {s.shape} and labels {y.shape} differ in shape")
    num_pos = int(y.sum())
    num_neg = y.size - num_pos
    if num_pos == 0 or num_neg == 0:
        return float("nan")
    ranks = average_ranks(s)
    return float((ranks[y].sum() - num_pos * (num_pos + 1) / 2) / (num_pos * num_neg))


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(values.size, dtype=np.float64)
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], values.size]
    # Vectorised: bootstrap intervals call this thousands of times on ~20k candidates.
    ranks[order] = np.repeat((starts + ends + 1) / 2, ends - starts)
    return ranks


def mean_member_auc(
    member_ids: Sequence[Hashable], scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray
) -> float:
    """Mean of per-member AUCs over members with both a positive and a negative candidate."""
    by_member: dict[Hashable, list[int]] = defaultdict(list)
    for i, m in enumerate(member_ids):
        by_member[m].append(i)
    s, y = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
    aucs = [roc_auc(s[idx], y[idx]) for idx in by_member.values()]
    aucs = [a for a in aucs if not np.isnan(a)]
    return float(np.mean(aucs)) if aucs else float("nan")
