"""Label rates (training/data/label_rates.py) against a brute-force count, and their leakage guarantees: rates
shown at a cutoff move with nothing at or after it, and evaluation rates with no val or test label of anyone."""

from __future__ import annotations

import dataclasses

import pytest

from tests.training.data.test_example_builder import CONFIG
from training.data.dataset import Dataset, Event
from training.data.example_builder import ExampleBuilder, label_rates_for
from training.data.label_rates import SMOOTHING, LabelRates, contract_text, smoothed_rate
from training.data.split import ChronologicalSplit

RATES_CONFIG = dataclasses.replace(CONFIG, label_rates=True)
TASKS = ["like", "love"]


def brute_force_item_rate(known: list[Event], item_id: str, before: int, task: str) -> float:
    everything = [e for e in known if e.timestamp < before]
    prior = sum(e.labels[task] for e in everything) / len(everything) if everything else 0.5
    past = [e for e in everything if e.item_id == item_id]
    return (sum(e.labels[task] for e in past) + SMOOTHING * prior) / (len(past) + SMOOTHING)


def test_item_rates_count_only_known_interactions_strictly_before(split: ChronologicalSplit) -> None:
    known = split.period_events("train")
    rates = LabelRates(known, TASKS)
    for task in TASKS:
        assert rates.prior[task] == pytest.approx(sum(e.labels[task] for e in known) / len(known))
    times = sorted({e.timestamp for e in known})
    probes = [times[0], times[len(times) // 3], times[len(times) // 2] + 1, times[-1], times[-1] + 1]
    for item_id in list(split.items)[:12]:
        for before in probes:
            got = rates.item(item_id, before)
            for task in TASKS:
                want = brute_force_item_rate(known, item_id, before, task)
                assert got[task] == pytest.approx(want), (item_id, before, task)


def test_an_unseen_item_and_a_new_member_get_the_prior(split: ChronologicalSplit) -> None:
    rates = label_rates_for(split)
    assert rates.item("never-seen", 10**12) == pytest.approx(rates.prior)
    assert rates.member([], 10**12) == pytest.approx(rates.prior)
    assert rates.member([], 0) == {t: 0.5 for t in TASKS}  # nothing known yet
    history = list(split.members["3"].train[:7])
    before = split.members["3"].train[7].timestamp
    prior = rates.prior_before(before)
    want = {t: smoothed_rate(sum(e.labels[t] for e in history), 7, prior[t]) for t in TASKS}
    assert rates.member(history, before) == pytest.approx(want)


def test_the_contract_names_every_task_prior(split: ChronologicalSplit) -> None:
    rates = label_rates_for(split)
    text = contract_text(rates.prior)
    assert all(f"{task} {rates.prior[task]:.4f}" in text for task in TASKS)


def everyone_changed(data: Dataset, keep) -> Dataset:
    """`data` with the labels of every interaction (any member) for which keep(e) is false flipped."""

    def flip(e: Event) -> Event:
        return e if keep(e) else dataclasses.replace(e, labels={t: 1 - v for t, v in e.labels.items()})

    events = [flip(e) for es in data.member_events.values() for e in es]
    return Dataset(data.spec, data.items, events, data.profiles)


def rates_builder(data: Dataset, tokenizer) -> ExampleBuilder:
    return ExampleBuilder(ChronologicalSplit(data), tokenizer, RATES_CONFIG, TASKS, group_size=4)


def test_training_rates_ignore_everyone_at_and_after_the_cutoff(dataset: Dataset, tokenizer) -> None:
    member = "5"
    events = dataset.member_events[member]
    # A cutoff not tied with the interaction before it: tied ones are history (by position), not "after".
    index = next(i for i in range(10, len(events)) if events[i - 1].timestamp < events[i].timestamp)
    cutoff = events[index].timestamp
    changed = everyone_changed(dataset, lambda e: e.timestamp < cutoff)
    a, b = rates_builder(dataset, tokenizer), rates_builder(changed, tokenizer)
    for task in TASKS:
        ga, gb = a.train_group(member, index, task), b.train_group(member, index, task)
        assert (ga.prefix_ids, ga.suffix_ids) == (gb.prefix_ids, gb.suffix_ids), task
    # The change bites: a later cutoff of the same member sees flipped labels in its rates.
    later = max(i for i in range(dataset_train_end(dataset, member)) if events[i].timestamp > cutoff)
    moved = [
        (a.train_group(member, later, t).suffix_ids, a.train_group(member, later, t).prefix_ids)
        != (b.train_group(member, later, t).suffix_ids, b.train_group(member, later, t).prefix_ids)
        for t in TASKS
    ]
    assert any(moved)


def dataset_train_end(data: Dataset, member: str) -> int:
    return ChronologicalSplit(data).members[member].val_start


def test_evaluation_rates_use_no_val_or_test_label(dataset: Dataset, tokenizer) -> None:
    split = ChronologicalSplit(dataset)
    train_keys = {(e.member_id, e.item_id, e.timestamp) for es in split.members.values() for e in es.train}
    changed = everyone_changed(dataset, lambda e: (e.member_id, e.item_id, e.timestamp) in train_keys)
    a, b = rates_builder(dataset, tokenizer), rates_builder(changed, tokenizer)
    for task in TASKS:
        for period in ("val", "test"):
            ga, gb = a.eval_groups(period, task), b.eval_groups(period, task)
            # Prompts differ only where a member's own val interactions are history (shown as history lines,
            # and in the member's own rate): candidates' rates never move.
            assert [g.suffix_ids for g in ga] == [g.suffix_ids for g in gb], (task, period)
    # The change bites: flipping train labels instead moves candidate rates.
    flipped_train = everyone_changed(dataset, lambda e: (e.member_id, e.item_id, e.timestamp) not in train_keys)
    c = rates_builder(flipped_train, tokenizer)
    assert [g.suffix_ids for g in a.eval_groups("test", "like")] != [
        g.suffix_ids for g in c.eval_groups("test", "like")
    ]


def test_the_card_example_gets_rates_for_every_task_and_the_original_stays() -> None:
    from training.data.label_rates import with_label_rates

    example = {"member": {"id": "u"}, "candidates": [{"id": "a", "text": "x"}, {"id": "b", "text": "y"}]}
    out = with_label_rates(example, {"like": 0.4812, "love": 0.2049})
    assert out is not None and out["member"]["label_rates"] == {"like": 0.48, "love": 0.2}
    assert all(c["label_rates"] == {"like": 0.48, "love": 0.2} for c in out["candidates"])
    assert "label_rates" not in example["member"] and with_label_rates(None, {"like": 0.5}) is None
