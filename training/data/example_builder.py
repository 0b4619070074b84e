"""Dataset interactions -> ranking prompts (one member prefix, k candidate suffixes, labels), through PromptBuilder.

A training group is a member at a cutoff inside the train period: history is the interactions strictly before the
cutoff, the profile the latest snapshot at or before the cutoff's time, candidates the next `group_size` train
interactions. An evaluation group is a member at the start of the val or test period: history is everything
before that period, candidates are that period's interactions. Every group is built by `PromptBuilder.build`, as
the service builds its prompts, so training and serving see the same tokens.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ranking.member import Candidate, Interaction, Member
from ranking.prompt_builder import PromptBuilder, PromptConfig, TextEncoder
from training.data.dataset import Dataset, Event
from training.data.label_rates import LabelRates
from training.data.similar_rates import SimilarItemRates
from training.data.split import ChronologicalSplit, MemberPeriods


@dataclass(frozen=True)
class RankGroup:
    """One member prefix for one task and k candidate suffixes, with each candidate's item and label."""

    member_id: str
    task: str
    prefix_ids: tuple[int, ...]
    suffix_ids: tuple[tuple[int, ...], ...]
    item_ids: tuple[str, ...]
    labels: tuple[bool, ...]


def cutoff_time(periods: MemberPeriods, index: int) -> int:
    """The time of interaction `index` (or of the last one): everything shown about the member predates it."""
    return periods.events[index].timestamp if index < len(periods.events) else periods.events[-1].timestamp


def member_at(
    data: Dataset,
    periods: MemberPeriods,
    index: int,
    max_history: int | None = None,
    rates: LabelRates | None = None,
) -> Member:
    """The Member as known just before interaction `index`: earlier interactions, the profile at its time.

    `max_history` only trims work: the prompt builder shows at most one line per prefix token, so passing the
    last max_prefix_len interactions renders exactly what the full history would. With `rates`, the member's
    own positive rates over all earlier interactions.
    """
    before = periods.events[:index]
    shown = before if max_history is None else before[-max_history:]
    history = tuple(Interaction(data.items[e.item_id].text, e.action, e.timestamp) for e in shown)
    profile = data.profile_at(periods.member_id, cutoff_time(periods, index))
    cutoff = cutoff_time(periods, index)
    member_rates = rates.member(before, cutoff) if rates is not None else None
    return Member(id=periods.member_id, profile=profile, history=history, label_rates=member_rates)


def candidate(
    data: Dataset, event: Event, with_labels: bool = False, rates: LabelRates | None = None, cutoff: int = 0
) -> Candidate:
    """An interaction's item as a ranking candidate; labels only in metadata, which the model never sees.

    With `rates`, the item's positive rates among known interactions strictly before `cutoff`.
    """
    metadata = {"labels": dict(event.labels)} if with_labels else None
    item_rates = rates.item(event.item_id, cutoff) if rates is not None else None
    return Candidate(event.item_id, data.items[event.item_id].text, metadata, item_rates)


def candidates_at(
    data: Dataset,
    periods: MemberPeriods,
    index: int,
    targets: Sequence[Event],
    rates: LabelRates | None = None,
    similar: SimilarItemRates | None = None,
    with_labels: bool = False,
) -> list[Candidate]:
    """`targets` as candidates of the member as of interaction `index`: with `rates`, each item's label rates, and
    with `similar` too, the member's rate on similar items (from all of the member's interactions before it)."""
    cutoff = cutoff_time(periods, index)
    cands = [candidate(data, e, with_labels, rates, cutoff) for e in targets]
    if similar is None or rates is None:
        return cands
    history = periods.events[:index]
    shown = similar.rates(history, [e.item_id for e in targets], cutoff, rates.member(history, cutoff))
    return [replace(c, similar_rates=s) for c, s in zip(cands, shown, strict=True)]


def label_rates_for(split: ChronologicalSplit) -> LabelRates:
    """Rates from the train period only, so no val or test label reaches any prompt (see label_rates.py)."""
    return LabelRates(split.period_events("train"), [t.name for t in split.data.spec.tasks])


def similar_rates_for(split: ChronologicalSplit, required: bool = True) -> SimilarItemRates | None:
    """Similar-items rates from the train period only, like the label rates (see similar_rates.py); where the
    data is too large for their table, None unless `required` (then the one-line SetupError)."""
    known = split.period_events("train")
    if not required and not SimilarItemRates.fits(known):
        return None
    return SimilarItemRates(known, [t.name for t in split.data.spec.tasks])


class ExampleBuilder:
    """Samples training groups and enumerates evaluation groups for the given tasks of the dataset."""

    def __init__(
        self,
        split: ChronologicalSplit,
        tokenizer: TextEncoder,
        prompt_config: PromptConfig,
        tasks: Sequence[str],
        group_size: int = 8,
        min_history: int = 1,
    ) -> None:
        self.split = split
        self.data = split.data
        self.builder = PromptBuilder(tokenizer, prompt_config)
        self.rates = label_rates_for(split) if prompt_config.label_rates else None
        self.similar = similar_rates_for(split) if prompt_config.similar_rates else None
        self.tasks = [self.data.spec.task(t) for t in tasks]
        self.group_size = group_size
        self.min_history = min_history
        # Every train interaction that has at least `min_history` earlier ones can start a group.
        self._starts = [
            (m, i) for m, p in split.members.items() for i in range(min(min_history, p.val_start), p.val_start)
        ]
        if not self._starts:
            raise ValueError("no train-period interactions to build training groups from")

    def with_prefix_len(self, max_prefix_len: int) -> ExampleBuilder:
        """The same examples (split, rates, targets) with prompts built to a different member-prefix budget."""
        other = copy.copy(self)
        config = replace(self.builder.config, max_prefix_len=max_prefix_len)
        other.builder = PromptBuilder(self.builder.tokenizer, config)
        return other

    @property
    def num_train_targets(self) -> int:
        return len(self._starts)

    def train_groups(self, rng: np.random.Generator, num_groups: int) -> list[RankGroup]:
        """`num_groups` groups at cutoffs drawn uniformly over train interactions, each with a random task."""
        picks = rng.integers(0, len(self._starts), size=num_groups)
        task_picks = rng.integers(0, len(self.tasks), size=num_groups)
        return [
            self.train_group(*self._starts[int(pick)], self.tasks[int(task_index)].name)
            for pick, task_index in zip(picks, task_picks, strict=True)
        ]

    def train_group(self, member_id: str, cutoff: int, task: str) -> RankGroup:
        """The group at train interaction `cutoff`: the past as prefix, the next interactions as targets."""
        periods = self.split.members[member_id]
        if not 0 <= cutoff < periods.val_start:
            raise ValueError(f"cutoff {cutoff} is outside member {member_id}'s train period")
        targets = periods.events[cutoff : min(cutoff + self.group_size, periods.val_start)]
        return self._group(periods, cutoff, targets, task)

    def eval_groups(self, period: str, task: str, max_candidates: int = 32) -> list[RankGroup]:
        """Every member's `period` interactions as candidates, in chunks sharing that member's prefix."""
        groups = []
        for periods in self.split.members.values():
            targets = periods.period(period)
            if not targets:
                continue
            index = periods.period_start(period)
            for start in range(0, len(targets), max_candidates):
                groups.append(self._group(periods, index, targets[start : start + max_candidates], task))
        return groups

    def member_for(self, periods: MemberPeriods, period: str) -> Member:
        """The Member a client would send when ranking `period` items: the past before it, its profile then."""
        return member_at(self.data, periods, periods.period_start(period), rates=self.rates)

    def member_for_index(self, periods: MemberPeriods, index: int) -> Member:
        return member_at(self.data, periods, index, max_history=self.builder.config.max_prefix_len, rates=self.rates)

    def _group(self, periods: MemberPeriods, index: int, targets: Sequence[Event], task_name: str) -> RankGroup:
        """The member as of interaction `index` and the `targets` as candidates, rates as of that time."""
        task = self.data.spec.task(task_name)
        member = self.member_for_index(periods, index)
        cands = candidates_at(self.data, periods, index, targets, self.rates, self.similar)
        prompt = self.builder.build(member, cands, task)
        return RankGroup(
            member_id=member.id,
            task=task_name,
            prefix_ids=prompt.prefix_ids,
            suffix_ids=prompt.suffix_ids,
            item_ids=tuple(e.item_id for e in targets),
            labels=tuple(e.label(task_name) for e in targets),
        )
