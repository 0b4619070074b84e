"""The bias model as of each cutoff: the plain BiasBaseline fitted on the past of one member's cutoff, and blind to
everything at or after it."""

from __future__ import annotations

import dataclasses

import pytest

from training.data.dataset import Dataset, Event
from training.data.example_builder import cutoff_time
from training.data.split import ChronologicalSplit
from training.evaluation.baselines import BiasBaseline
from training.evaluation.bias_as_of_cutoff import BiasAsOfCutoff


def _test_pairs(split: ChronologicalSplit, member: str) -> list[tuple[str, str]]:
    return [(member, e.item_id) for e in split.members[member].test]


def test_each_member_is_scored_by_the_bias_model_of_its_own_past(split: ChronologicalSplit) -> None:
    baseline = BiasAsOfCutoff(split, "test", "like")
    train = split.period_events("train")
    cutoffs = {m: cutoff_time(p, p.test_start) for m, p in split.members.items()}
    assert len(set(cutoffs.values())) > 3  # members with different pasts
    for member in list(split.members)[:6]:
        reference = BiasBaseline([e for e in train if e.timestamp < cutoffs[member]], "like")
        for pair in _test_pairs(split, member):
            assert baseline.score(*pair) == pytest.approx(reference.score(*pair), abs=1e-12)
    # The whole train period is the fit of no member whose cutoff precedes its end: that is the point.
    last = max(e.timestamp for e in train)
    early = next(m for m, c in cutoffs.items() if c <= last and _test_pairs(split, m))
    whole = BiasBaseline(train, "like")
    assert any(baseline.score(*p) != pytest.approx(whole.score(*p), abs=1e-9) for p in _test_pairs(split, early))


def _flipped_after(data: Dataset, time: int) -> Dataset:
    """`data` with the labels of every interaction (any member) at or after `time` flipped."""

    def flip(e: Event) -> Event:
        return e if e.timestamp < time else dataclasses.replace(e, labels={t: 1 - v for t, v in e.labels.items()})

    return Dataset(data.spec, data.items, [flip(e) for es in data.member_events.values() for e in es], data.profiles)


def test_no_label_at_or_after_a_members_cutoff_moves_its_scores(dataset: Dataset, split: ChronologicalSplit) -> None:
    cutoffs = {m: cutoff_time(p, p.test_start) for m, p in split.members.items()}
    member = sorted(cutoffs, key=cutoffs.get)[len(cutoffs) // 2]
    changed = ChronologicalSplit(_flipped_after(dataset, cutoffs[member]))
    before, after = BiasAsOfCutoff(split, "test", "like"), BiasAsOfCutoff(changed, "test", "like")
    pairs = _test_pairs(split, member)
    assert [before.score(*p) for p in pairs] == [after.score(*p) for p in pairs]
    # The change bites: the member with the latest cutoff sees flipped train labels.
    last = max(cutoffs, key=cutoffs.get)
    assert [before.score(*p) for p in _test_pairs(split, last)] != [after.score(*p) for p in _test_pairs(split, last)]
