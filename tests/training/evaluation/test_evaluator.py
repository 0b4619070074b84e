"""TaskScores survive a save/load round trip (paired comparisons read them back)."""

from __future__ import annotations

import numpy as np

from training.evaluation.evaluator import TaskScores, load_task_scores, save_task_scores


def test_scores_round_trip_through_npz(tmp_path) -> None:
    ts = TaskScores(np.array([1, 1, 2]), np.array([10, 11, 12]), np.array([0.5, -1.0, 2.0]), np.array([1, 0, 1], bool))
    save_task_scores({"like": ts, "love": ts}, tmp_path / "s.npz")
    back = load_task_scores(tmp_path / "s.npz")
    assert sorted(back) == ["like", "love"]
    for name in ("member_ids", "movie_ids", "scores", "labels"):
        assert np.array_equal(getattr(back["love"], name), getattr(ts, name))
