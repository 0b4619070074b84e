"""Similar-items rates (training/data/similar_rates.py) against plain set counting, and their leakage guarantees:
nothing at or after the cutoff moves them, something before it does."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.reference.similar_items import similar_items_rate
from tests.training.jobs_dataset import write_jobs_dataset
from training.data import similar_rates
from training.data.dataset import Dataset, Event
from training.data.dataset_reader import load_dataset
from training.data.example_builder import cutoff_time, label_rates_for, similar_rates_for
from training.data.similar_rates import SMOOTHING, SimilarItemRates
from training.data.split import ChronologicalSplit
from training.setup_error import SetupError

TASKS = ["like", "love"]


def cases(split: ChronologicalSplit):
    """(member periods, index, cutoff) at three points of every member's events."""
    for periods in split.members.values():
        for index in (3, len(periods.events) // 2, periods.test_start):
            yield periods, index, cutoff_time(periods, index)


def test_rates_equal_plain_set_counting(split: ChronologicalSplit) -> None:
    known = split.period_events("train")
    similar, rates = SimilarItemRates(known, TASKS), label_rates_for(split)
    items = [*list(split.items)[:25], "never-seen"]
    checked = 0
    for periods, index, cutoff in cases(split):
        history = periods.events[:index]
        member_rate = rates.member(history, cutoff)
        got = similar.rates(history, items, cutoff, member_rate)
        for item_id, shown in zip(items, got, strict=True):
            for task in TASKS:
                want = similar_items_rate(known, history, item_id, cutoff, member_rate[task], task, SMOOTHING)
                assert shown[task] == pytest.approx(want, abs=1e-6), (periods.member_id, index, item_id, task)
                checked += shown[task] != pytest.approx(member_rate[task])
    assert checked > 100  # the neighbour term is not zero everywhere


def flipped(data: Dataset, keep) -> Dataset:
    def flip(e: Event) -> Event:
        return e if keep(e) else dataclasses.replace(e, labels={t: 1 - v for t, v in e.labels.items()})

    return Dataset(data.spec, data.items, [flip(e) for es in data.member_events.values() for e in es], data.profiles)


def shown_at(data: Dataset, member: str, index: int) -> list[dict[str, float]]:
    split = ChronologicalSplit(data)
    periods = split.members[member]
    cutoff = cutoff_time(periods, index)
    history = periods.events[:index]
    similar = SimilarItemRates(split.period_events("train"), TASKS)
    return similar.rates(history, list(split.items), cutoff, {t: 0.5 for t in TASKS})


def test_nothing_at_or_after_the_cutoff_moves_the_rates(dataset: Dataset) -> None:
    member = "5"
    events = dataset.member_events[member]
    index = next(i for i in range(10, len(events)) if events[i - 1].timestamp < events[i].timestamp)
    cutoff = events[index].timestamp
    before = shown_at(dataset, member, index)
    assert before == shown_at(flipped(dataset, lambda e: e.timestamp < cutoff), member, index)
    # Known interactions from the cutoff on (co-raters of every item) are not counted: dropping them all, or adding
    # a member who rated everything at the cutoff, changes nothing.
    split = ChronologicalSplit(dataset)
    known = split.period_events("train")
    history = split.members[member].events[:index]
    everything = [Event("new", i, cutoff, "rated 5.0", {"like": 1, "love": 1}) for i in split.items]
    for other in ([e for e in known if e.timestamp < cutoff], known + everything):
        shown = SimilarItemRates(other, TASKS).rates(history, list(split.items), cutoff, {t: 0.5 for t in TASKS})
        assert shown == before
    # The change bites: flipping the member's own earlier labels moves the rates.
    own_past = {(e.item_id, e.timestamp) for e in events[:index]}
    moved = flipped(dataset, lambda e: e.member_id != member or (e.item_id, e.timestamp) not in own_past)
    assert before != shown_at(moved, member, index)


def test_no_history_or_no_known_neighbour_gives_the_member_rate(split: ChronologicalSplit) -> None:
    similar = SimilarItemRates(split.period_events("train"), TASKS)
    member_rate = {"like": 0.31, "love": 0.12}
    periods = next(iter(split.members.values()))
    cutoff = cutoff_time(periods, 5)
    assert similar.rates([], ["1", "2"], cutoff, member_rate) == [member_rate, member_rate]
    assert similar.rates(periods.events[:5], ["never-seen"], cutoff, member_rate) == [member_rate]
    first = min(e.timestamp for e in split.period_events("train"))
    assert similar.rates(periods.events[:5], ["1"], first, member_rate) == [member_rate]  # nothing known yet


def test_a_non_movie_dataset_gets_rates_of_its_own_task(tmp_path: Path) -> None:
    data = load_dataset(write_jobs_dataset(tmp_path / "jobs"))
    split = ChronologicalSplit(data)
    known = split.period_events("train")
    similar = SimilarItemRates(known, ["apply"])
    periods = next(p for p in split.members.values() if p.test)
    cutoff = cutoff_time(periods, periods.test_start)
    history = periods.events[: periods.test_start]
    items = [e.item_id for e in periods.test]
    got = similar.rates(history, items, cutoff, {"apply": 0.4})
    want = [similar_items_rate(known, history, i, cutoff, 0.4, "apply", SMOOTHING) for i in items]
    assert [g["apply"] for g in got] == pytest.approx(want, abs=1e-6)


def test_a_dataset_too_large_for_the_table_is_refused_in_one_line(
    split: ChronologicalSplit, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(similar_rates, "MAX_TABLE_BYTES", 1000)
    assert not SimilarItemRates.fits(split.period_events("train"))
    assert similar_rates_for(split, required=False) is None
    with pytest.raises(SetupError, match=r"similar-items rates: \d+ items x \d+ members need"):
        SimilarItemRates(split.period_events("train"), TASKS)
