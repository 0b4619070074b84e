"""TaskScores survive a save/load round trip (paired comparisons read them back)."""

from __future__ import annotations

import numpy as np

from training.evaluation.evaluator import TaskScores, load_task_scores, save_task_scores


def test_scores_round_trip_through_npz(tmp_path) -> None:
    ts = TaskScores(
        np.array(["a", "a", "b"]), np.array(["10", "11", "12"]), np.array([0.5, -1.0, 2.0]), np.array([1, 0, 1], bool)
    )
    save_task_scores({"like": ts, "love": ts}, tmp_path / "s.npz")
    back = load_task_scores(tmp_path / "s.npz")
    assert sorted(back) == ["like", "love"]
    for name in ("member_ids", "item_ids", "scores", "labels"):
        assert np.array_equal(getattr(back["love"], name), getattr(ts, name))


def test_metrics_of_a_perfect_and_a_constant_ranking() -> None:
    members = np.array(["a"] * 4 + ["b"] * 4)
    labels = np.array([1, 0, 0, 1, 0, 1, 0, 0], bool)
    perfect = TaskScores(members, np.arange(8).astype(str), labels * 4.0 - 2.0, labels)
    m = perfect.metrics(1 / (1 + np.exp(-perfect.scores)))
    assert m["auc"] == 1.0 and m["member_auc"] == 1.0 and m["ndcg@10"] == 1.0
    assert 0.0 < m["log_loss"] < 0.2 and m["ece"] is not None
    flat = TaskScores(members, perfect.item_ids, np.zeros(8), labels).metrics()
    assert flat["auc"] == 0.5 and flat["log_loss"] is None and flat["ece"] is None


def test_baseline_rows_align_with_model_groups(split, tokenizer) -> None:
    """Paired intervals compare baselines and models candidate by candidate: same order, same members."""
    from ranking.prompt_builder import PromptConfig
    from training.data.example_builder import ExampleBuilder
    from training.evaluation.baselines import PopularityBaseline
    from training.evaluation.evaluator import collect, score_baseline

    groups = ExampleBuilder(split, tokenizer, PromptConfig(max_prefix_len=160), ["like"]).eval_groups("test", "like")
    from_groups = collect(groups, [0.0] * sum(len(g.labels) for g in groups))
    direct = score_baseline(PopularityBaseline(split.period_events("train")), split, "test", "like")
    for name in ("member_ids", "item_ids", "labels"):
        assert np.array_equal(getattr(direct, name), getattr(from_groups, name))
