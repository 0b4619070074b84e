"""Paired bootstrap of AUC deltas against a plain loop, and on cases whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from training.evaluation.auc import roc_auc
from training.evaluation.bootstrap import paired_auc_delta
from training.evaluation.evaluator import TaskScores


def task_scores(rng: np.random.Generator, num_members: int, signal: float) -> TaskScores:
    members = np.repeat(np.arange(num_members), rng.integers(2, 8, num_members))
    labels = rng.random(members.size) < 0.4
    scores = signal * labels + rng.normal(size=members.size)
    movies = np.arange(members.size).astype(str)
    return TaskScores(members, movies, scores, labels)


def with_scores(ts: TaskScores, scores: np.ndarray) -> TaskScores:
    return TaskScores(ts.member_ids, ts.item_ids, scores, ts.labels)


def loop_reference(ref: dict[str, TaskScores], new: dict[str, TaskScores], num: int, seed: int) -> list[float]:
    """The same resampling, written as plainly as possible: draw members, gather their rows one by one."""
    members = sorted(set(np.concatenate([ts.member_ids for ts in ref.values()]).tolist()))
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(num):
        picked = [members[i] for i in rng.integers(0, len(members), len(members))]
        a, b = [], []
        for task in sorted(ref):
            rows = [r for m in picked for r in range(ref[task].labels.size) if ref[task].member_ids[r] == m]
            a.append(roc_auc(ref[task].scores[rows], ref[task].labels[rows]))
            b.append(roc_auc(new[task].scores[rows], new[task].labels[rows]))
        out.append(100 * (np.mean(b) - np.mean(a)) / np.mean(a))
    return out


def test_interval_matches_the_plain_loop() -> None:
    rng = np.random.default_rng(0)
    ref = {"like": task_scores(rng, 30, 1.0), "love": task_scores(rng, 30, 0.5)}
    new = {t: with_scores(ts, ts.scores + rng.normal(scale=0.5, size=ts.scores.size)) for t, ts in ref.items()}
    got = paired_auc_delta(ref, new, num_resamples=40, seed=3)
    want = np.quantile(loop_reference(ref, new, 40, seed=3), [0.025, 0.975])
    assert (got.low_pct, got.high_pct) == pytest.approx(tuple(want), abs=1e-9)
    full = 100 * (
        np.mean([roc_auc(new[t].scores, new[t].labels) for t in ref])
        / np.mean([roc_auc(ref[t].scores, ref[t].labels) for t in ref])
        - 1
    )
    assert got.delta_pct == pytest.approx(full)
    assert got.low_pct <= got.delta_pct <= got.high_pct


def test_the_same_model_has_a_zero_width_interval() -> None:
    ref = {"like": task_scores(np.random.default_rng(1), 50, 1.0)}
    got = paired_auc_delta(ref, ref, num_resamples=50)
    assert got.delta_pct == got.low_pct == got.high_pct == 0.0 and not got.excludes_zero()


def test_a_clearly_worse_model_excludes_zero() -> None:
    rng = np.random.default_rng(2)
    ref = {"like": task_scores(rng, 400, 1.5)}
    worse = {"like": with_scores(ref["like"], ref["like"].scores + rng.normal(scale=2.0, size=ref["like"].labels.size))}
    got = paired_auc_delta(ref, worse, num_resamples=200)
    assert got.high_pct < 0 and got.excludes_zero()


def test_pairing_needs_the_same_candidates() -> None:
    rng = np.random.default_rng(3)
    a = task_scores(rng, 10, 1.0)
    b = TaskScores(a.member_ids, a.item_ids[::-1].copy(), a.scores, a.labels)
    with pytest.raises(ValueError, match="same candidates"):
        paired_auc_delta({"like": a}, {"like": b})
    with pytest.raises(ValueError, match="tasks differ"):
        paired_auc_delta({"like": a}, {"love": a})


def test_auc_interval_contains_the_auc_and_narrows_with_members() -> None:
    from training.evaluation.bootstrap import auc_interval

    rng = np.random.default_rng(5)
    small, large = {"like": task_scores(rng, 40, 1.0)}, {"like": task_scores(rng, 800, 1.0)}
    for scores in (small, large):
        low, high = auc_interval(scores, num_resamples=200)
        auc = roc_auc(scores["like"].scores, scores["like"].labels)
        assert low < auc < high
    assert np.subtract(*auc_interval(large, num_resamples=200)[::-1]) < np.subtract(
        *auc_interval(small, num_resamples=200)[::-1]
    )


def member_loop_reference(ref: dict[str, TaskScores], new: dict[str, TaskScores], num: int, seed: int) -> list[float]:
    """Per-member AUC resampled plainly: draw members, average each drawn member's own AUC (one-class ones skipped)."""
    members = sorted(set(np.concatenate([ts.member_ids for ts in ref.values()]).tolist()))
    rng = np.random.default_rng(seed)

    def member_mean(ts: TaskScores, picked: list[int]) -> float:
        aucs = [roc_auc(ts.scores[ts.member_ids == m], ts.labels[ts.member_ids == m]) for m in picked]
        return float(np.nanmean(aucs))

    out = []
    for _ in range(num):
        picked = [members[i] for i in rng.integers(0, len(members), len(members))]
        a = np.mean([member_mean(ref[t], picked) for t in sorted(ref)])
        b = np.mean([member_mean(new[t], picked) for t in sorted(ref)])
        out.append(100 * (b - a) / a)
    return out


def test_member_interval_matches_the_plain_loop() -> None:
    from training.evaluation.auc import mean_member_auc
    from training.evaluation.bootstrap import paired_member_auc_delta

    rng = np.random.default_rng(5)
    ref = {"like": task_scores(rng, 30, 1.0), "love": task_scores(rng, 30, 0.5)}
    new = {t: with_scores(ts, ts.scores + rng.normal(scale=0.7, size=ts.scores.size)) for t, ts in ref.items()}
    got = paired_member_auc_delta(ref, new, num_resamples=40, seed=2)
    want = np.quantile(member_loop_reference(ref, new, 40, seed=2), [0.025, 0.975])
    assert (got.low_pct, got.high_pct) == pytest.approx(tuple(want), abs=1e-9)
    means = [np.mean([mean_member_auc(list(s[t].member_ids), s[t].scores, s[t].labels) for t in s]) for s in (ref, new)]
    assert got.delta_pct == pytest.approx(100 * (means[1] / means[0] - 1))
    assert got.low_pct <= got.delta_pct <= got.high_pct


def test_member_interval_excludes_zero_for_a_much_better_ranker() -> None:
    from training.evaluation.bootstrap import paired_member_auc_delta

    rng = np.random.default_rng(6)
    ref = {"like": task_scores(rng, 200, 0.2)}
    better = {"like": with_scores(ref["like"], ref["like"].scores + 2.0 * ref["like"].labels)}
    got = paired_member_auc_delta(ref, better, num_resamples=200)
    assert got.delta_pct > 0 and got.excludes_zero()
