"""Paired bootstrap over members: how sure is a small AUC difference between two models on the same test set?

Compression deltas are often a few hundredths of a percent; whether that is a loss or noise depends on the
test set. Resampling *members* (not candidates) with replacement keeps each member's candidates together, as
the test set was drawn, and using the same resample for both models makes the interval about the difference,
which is far tighter than the two models' separate intervals.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from training.evaluation.auc import roc_auc
from training.evaluation.evaluator import TaskScores


@dataclass(frozen=True)
class DeltaInterval:
    """Relative change of the mean-over-tasks global AUC, in percent, with a percentile interval."""

    delta_pct: float
    low_pct: float
    high_pct: float
    num_resamples: int

    def excludes_zero(self) -> bool:
        return self.low_pct > 0 or self.high_pct < 0


def paired_auc_delta(
    reference: Mapping[str, TaskScores],
    candidate: Mapping[str, TaskScores],
    num_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> DeltaInterval:
    """Δ% = 100·(AUC_candidate − AUC_reference)/AUC_reference of the mean over tasks, and its bootstrap interval."""
    tasks, members, rows = _paired_rows(reference, candidate)
    rng = np.random.default_rng(seed)
    deltas = np.empty(num_resamples)
    for i, index in enumerate(_resampled_rows(rows, members.size, num_resamples, rng)):
        deltas[i] = _delta_pct(reference, candidate, index)
    alpha = (1 - confidence) / 2
    full = {t: np.arange(reference[t].labels.size) for t in tasks}
    low, high = np.nanquantile(deltas, [alpha, 1 - alpha])
    return DeltaInterval(_delta_pct(reference, candidate, full), float(low), float(high), num_resamples)


def _delta_pct(
    reference: Mapping[str, TaskScores], candidate: Mapping[str, TaskScores], index: Mapping[str, np.ndarray]
) -> float:
    ref = np.mean([roc_auc(reference[t].scores[i], reference[t].labels[i]) for t, i in index.items()])
    new = np.mean([roc_auc(candidate[t].scores[i], candidate[t].labels[i]) for t, i in index.items()])
    return float(100 * (new - ref) / ref)


def _paired_rows(
    reference: Mapping[str, TaskScores], candidate: Mapping[str, TaskScores]
) -> tuple[list[str], np.ndarray, dict[str, list[np.ndarray]]]:
    """Tasks, members and each task's rows per member, after checking both sides scored the same candidates."""
    tasks = sorted(reference)
    if sorted(candidate) != tasks:
        raise ValueError(f"tasks differ: {sorted(candidate)} vs {tasks}")
    for t in tasks:
        _check_aligned(t, reference[t], candidate[t])
    members = np.unique(np.concatenate([reference[t].member_ids for t in tasks]))
    return tasks, members, {t: _rows_by_member(reference[t].member_ids, members) for t in tasks}


def _resampled_rows(
    rows: Mapping[str, list[np.ndarray]], num_members: int, num_resamples: int, rng: np.random.Generator
) -> Iterator[dict[str, np.ndarray]]:
    """Each resample's row indices per task: members drawn with replacement, all their candidates kept."""
    for _ in range(num_resamples):
        picked = rng.integers(0, num_members, num_members)
        yield {t: np.concatenate([member_rows[m] for m in picked]) for t, member_rows in rows.items()}


def _rows_by_member(member_ids: np.ndarray, members: np.ndarray) -> list[np.ndarray]:
    """Per member (in `members` order) the row indices of its candidates; empty for a member without any."""
    order = np.argsort(member_ids, kind="stable")
    sorted_ids = member_ids[order]
    starts = np.searchsorted(sorted_ids, members, side="left")
    ends = np.searchsorted(sorted_ids, members, side="right")
    return [order[s:e] for s, e in zip(starts, ends, strict=True)]


def _check_aligned(task: str, a: TaskScores, b: TaskScores) -> None:
    """A paired comparison needs the same candidates in the same order."""
    same = (
        a.labels.shape == b.labels.shape
        and np.array_equal(a.member_ids, b.member_ids)
        and np.array_equal(a.item_ids, b.item_ids)
        and np.array_equal(a.labels, b.labels)
    )
    if not same:
        raise ValueError(f"task {task!r}: the two models were not scored on the same candidates")


def auc_interval(
    per_task: Mapping[str, TaskScores], num_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile interval of one model's mean-over-tasks global AUC, resampling members with replacement."""
    tasks = sorted(per_task)
    members = np.unique(np.concatenate([per_task[t].member_ids for t in tasks]))
    rows = {t: _rows_by_member(per_task[t].member_ids, members) for t in tasks}
    rng = np.random.default_rng(seed)
    values = np.empty(num_resamples)
    for i, index in enumerate(_resampled_rows(rows, members.size, num_resamples, rng)):
        values[i] = np.mean([roc_auc(per_task[t].scores[ix], per_task[t].labels[ix]) for t, ix in index.items()])
    alpha = (1 - confidence) / 2
    low, high = np.nanquantile(values, [alpha, 1 - alpha])
    return float(low), float(high)


def paired_member_auc_delta(
    reference: Mapping[str, TaskScores],
    candidate: Mapping[str, TaskScores],
    num_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> DeltaInterval:
    """Δ% of the mean-over-tasks per-member AUC (members with both classes), with its paired bootstrap interval.

    A member's AUC does not change when members are resampled, so each is computed once and a resample is a
    weighted mean of them: the same members (with multiplicity) for both models.
    """
    tasks, members, rows = _paired_rows(reference, candidate)
    ref = np.stack([_member_aucs(reference[t], rows[t]) for t in tasks])  # (tasks, members), NaN: one class only
    new = np.stack([_member_aucs(candidate[t], rows[t]) for t in tasks])
    has_both = ~np.isnan(ref)
    rng = np.random.default_rng(seed)
    weights = np.stack(
        [np.bincount(rng.integers(0, members.size, members.size), minlength=members.size) for _ in range(num_resamples)]
    )  # (resamples, members)
    deltas = _weighted_delta_pct(ref, new, has_both, weights)
    alpha = (1 - confidence) / 2
    low, high = np.nanquantile(deltas, [alpha, 1 - alpha])
    full = _weighted_delta_pct(ref, new, has_both, np.ones((1, members.size)))[0]
    return DeltaInterval(float(full), float(low), float(high), num_resamples)


def _member_aucs(scores: TaskScores, rows: list[np.ndarray]) -> np.ndarray:
    return np.array([roc_auc(scores.scores[r], scores.labels[r]) if r.size else np.nan for r in rows])


def _weighted_delta_pct(ref: np.ndarray, new: np.ndarray, has_both: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per resample (rows of `weights`) Δ% of the mean over tasks of the weighted mean per-member AUC."""
    w = weights[:, None, :] * has_both[None]  # (resamples, tasks, members)
    total = w.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ref_mean = (w * np.nan_to_num(ref)[None]).sum(-1) / total
        new_mean = (w * np.nan_to_num(new)[None]).sum(-1) / total
    ref_avg, new_avg = ref_mean.mean(-1), new_mean.mean(-1)
    return 100 * (new_avg - ref_avg) / ref_avg
