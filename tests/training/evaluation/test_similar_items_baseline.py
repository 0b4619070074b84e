"""The bias + similar-items baseline: the as-of-cutoff bias score plus the similar-items deviation, from the past
only, and a row of every evaluation table marked past-only."""

from __future__ import annotations

import pytest

from tests.reference.similar_items import similar_items_rate
from tests.training.evaluation.test_bias_as_of_cutoff import _flipped_after
from training.data.dataset import Dataset
from training.data.example_builder import cutoff_time, label_rates_for
from training.data.similar_rates import SMOOTHING
from training.data.split import ChronologicalSplit
from training.evaluation.bias_as_of_cutoff import BiasAsOfCutoff
from training.evaluation.evaluation_table import baseline_results
from training.evaluation.similar_items_baseline import BiasPlusSimilarItems


def test_the_score_is_the_bias_plus_the_members_deviation_on_similar_items(split: ChronologicalSplit) -> None:
    baseline, bias = BiasPlusSimilarItems(split, "test", "love"), BiasAsOfCutoff(split, "test", "love")
    rates, known = label_rates_for(split), split.period_events("train")
    moved = 0
    for member, periods in list(split.members.items())[:5]:
        history, cutoff = periods.events[: periods.test_start], cutoff_time(periods, periods.test_start)
        member_rate = rates.member(history, cutoff)["love"]
        for e in periods.test:
            similar = similar_items_rate(known, history, e.item_id, cutoff, member_rate, "love", SMOOTHING)
            want = bias.score(member, e.item_id) + similar - member_rate
            assert baseline.score(member, e.item_id) == pytest.approx(want, abs=1e-6)
            moved += abs(similar - member_rate) > 1e-6
    assert moved > 10


def test_no_label_at_or_after_a_members_cutoff_moves_its_scores(dataset: Dataset, split: ChronologicalSplit) -> None:
    cutoffs = {m: cutoff_time(p, p.test_start) for m, p in split.members.items()}
    member = sorted(cutoffs, key=cutoffs.get)[len(cutoffs) // 2]
    changed = ChronologicalSplit(_flipped_after(dataset, cutoffs[member]))
    before, after = BiasPlusSimilarItems(split, "test", "like"), BiasPlusSimilarItems(changed, "test", "like")
    pairs = [(member, e.item_id) for e in split.members[member].test]
    assert [before.score(*p) for p in pairs] == [after.score(*p) for p in pairs]
    last = max(cutoffs, key=cutoffs.get)
    late = [(last, e.item_id) for e in split.members[last].test]
    assert [before.score(*p) for p in late] != [after.score(*p) for p in late]


def test_every_evaluation_table_has_the_row_as_past_only(split: ChronologicalSplit) -> None:
    results = baseline_results(split, ["like"], "test")
    row = results[BiasPlusSimilarItems.name]
    assert row["past_only"] is True and row["kind"] == "baseline"
    assert 0.0 < row["mean_member_auc"] < 1.0


def test_a_table_too_large_skips_the_row(split: ChronologicalSplit, monkeypatch: pytest.MonkeyPatch) -> None:
    from training.data import similar_rates

    monkeypatch.setattr(similar_rates, "MAX_TABLE_BYTES", 1000)
    results = baseline_results(split, ["like"], "test")
    assert BiasPlusSimilarItems.name not in results and BiasAsOfCutoff.name in results
