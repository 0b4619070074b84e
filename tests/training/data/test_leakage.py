"""No leakage, tested on the generic dataset format: changing anything strictly after a cutoff — later interactions
(items, actions, labels, extra ones), later profile snapshots — moves no prompt built at that cutoff, nor any label
of a target before it. Each test also checks that the change reached what is built after the cutoff, so it bites."""

from __future__ import annotations

import dataclasses

from tests.training.data.test_example_builder import CONFIG
from training.data.dataset import Dataset, Event, ProfileSnapshot
from training.data.example_builder import ExampleBuilder
from training.data.split import ChronologicalSplit

MEMBER = "5"


def future_changed(data: Dataset, member: str, after: int, add_events: bool, cutoff: int | None = None) -> Dataset:
    """`data` with every interaction of `member` strictly after time `after` rewritten, and its profile snapshots
    strictly after `cutoff` (default `after`) replaced by one that leaks. A snapshot at the cutoff itself is
    allowed: it summarises only what came strictly before it (docs/data.md)."""
    cutoff = after if cutoff is None else cutoff
    other_item = next(iter(data.items))

    def rewrite(e: Event) -> Event:
        if e.member_id != member or e.timestamp <= after:
            return e
        labels = {t: 1 - v for t, v in e.labels.items()}
        return dataclasses.replace(e, item_id=other_item, action="rated 0.5", labels=labels)

    events = [rewrite(e) for es in data.member_events.values() for e in es]
    if add_events:
        last = data.member_events[member][-1]
        events += [dataclasses.replace(last, timestamp=last.timestamp + 10 + i, item_id=other_item) for i in range(5)]
    profiles = dict(data.profiles)
    kept = [s for s in profiles.get(member, []) if s.as_of is None or s.as_of <= cutoff]
    profiles[member] = [*kept, ProfileSnapshot({"leak": "from the future"}, cutoff + 1)]
    return Dataset(data.spec, data.items, events, profiles)


def builders(dataset: Dataset, changed: Dataset, tokenizer) -> tuple[ExampleBuilder, ExampleBuilder]:
    def make(d: Dataset) -> ExampleBuilder:
        return ExampleBuilder(ChronologicalSplit(d), tokenizer, CONFIG, ["like", "love"], group_size=4)

    return make(dataset), make(changed)


def test_training_prompts_and_earlier_labels_ignore_the_future(dataset: Dataset, tokenizer) -> None:
    events = dataset.member_events[MEMBER]
    cutoff = 8
    # The change starts after the last target of the group at cutoff - 4, so those labels must not move either.
    after = events[cutoff].timestamp
    a, b = builders(dataset, future_changed(dataset, MEMBER, after, add_events=True), tokenizer)
    for task in ("like", "love"):
        for index in range(1, cutoff + 1):
            ga, gb = a.train_group(MEMBER, index, task), b.train_group(MEMBER, index, task)
            assert ga.prefix_ids == gb.prefix_ids, (task, index)
        early_a, early_b = a.train_group(MEMBER, cutoff - 4, task), b.train_group(MEMBER, cutoff - 4, task)
        assert early_a == early_b
        late_a, late_b = a.train_group(MEMBER, cutoff + 1, task), b.train_group(MEMBER, cutoff + 1, task)
        assert late_a.labels != late_b.labels and late_a.prefix_ids != late_b.prefix_ids  # the change bites


def test_evaluation_prefixes_ignore_the_period_they_score(dataset: Dataset, tokenizer) -> None:
    periods = ChronologicalSplit(dataset).members[MEMBER]
    after = periods.events[periods.test_start - 1].timestamp
    # Ties with the last history item would be history themselves; this fixture has none at the boundary.
    assert periods.events[periods.test_start].timestamp > after
    cutoff = periods.events[periods.test_start].timestamp
    changed = future_changed(dataset, MEMBER, after, add_events=False, cutoff=cutoff)
    a, b = builders(dataset, changed, tokenizer)
    for task in ("like", "love"):
        ga = [g for g in a.eval_groups("test", task) if g.member_id == MEMBER]
        gb = [g for g in b.eval_groups("test", task) if g.member_id == MEMBER]
        assert [g.prefix_ids for g in ga] == [g.prefix_ids for g in gb]
        assert [g.suffix_ids for g in ga] != [g.suffix_ids for g in gb]  # the candidates did change
        assert [g.labels for g in ga] != [g.labels for g in gb]
        val_a = [g for g in a.eval_groups("val", task) if g.member_id == MEMBER]
        val_b = [g for g in b.eval_groups("val", task) if g.member_id == MEMBER]
        assert val_a == val_b  # val groups (prompts and labels) lie wholly before the change
