"""Dataset interactions -> ranking prompts (one member prefix, k candidate suffixes, labels), through PromptBuilder.

A training group is a member at a cutoff inside the train period: history is the interactions strictly before the
cutoff, the profile the latest snapshot at or before the cutoff's time, candidates the next `group_size` train
interactions. An evaluation group is a member at the start of the val or test period: history is everything
before that period, candidates are that period's interactions. Every group is built by `PromptBuilder.build`, as
the service builds its prompts, so training and serving see the same tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ranking.member import Candidate, Interaction, Member
from ranking.prompt_builder import PromptBuilder, PromptConfig, TextEncoder
from training.data.dataset import Dataset, Event
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


def member_at(data: Dataset, periods: MemberPeriods, index: int, max_history: int | None = None) -> Member:
    """The Member as known just before interaction `index`: earlier interactions, the profile at its time.

    `max_history` only trims work: the prompt builder shows at most one line per prefix token, so passing the
    last max_prefix_len interactions renders exactly what the full history would.
    """
    before = periods.events[:index]
    shown = before if max_history is None else before[-max_history:]
    cutoff = periods.events[index].timestamp if index < len(periods.events) else periods.events[-1].timestamp
    history = tuple(Interaction(data.items[e.item_id].text, e.action, e.timestamp) for e in shown)
    return Member(id=periods.member_id, profile=data.profile_at(periods.member_id, cutoff), history=history)


def candidate(data: Dataset, event: Event, with_labels: bool = False) -> Candidate:
    """An interaction's item as a ranking candidate; labels only in metadata, which the model never sees."""
    metadata = {"labels": dict(event.labels)} if with_labels else None
    return Candidate(event.item_id, data.items[event.item_id].text, metadata)


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
        self.tasks = [self.data.spec.task(t) for t in tasks]
        self.group_size = group_size
        self.min_history = min_history
        # Every train interaction that has at least `min_history` earlier ones can start a group.
        self._starts = [
            (m, i) for m, p in split.members.items() for i in range(min(min_history, p.val_start), p.val_start)
        ]
        if not self._starts:
            raise ValueError("no train-period interactions to build training groups from")

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
        return self._group(self.member_for_index(periods, cutoff), targets, task)

    def eval_groups(self, period: str, task: str, max_candidates: int = 32) -> list[RankGroup]:
        """Every member's `period` interactions as candidates, in chunks sharing that member's prefix."""
        groups = []
        for periods in self.split.members.values():
            targets = periods.period(period)
            if not targets:
                continue
            member = self.member_for_index(periods, periods.period_start(period))
            for start in range(0, len(targets), max_candidates):
                groups.append(self._group(member, targets[start : start + max_candidates], task))
        return groups

    def member_for(self, periods: MemberPeriods, period: str) -> Member:
        """The Member a client would send when ranking `period` items: the past before it, its profile then."""
        return member_at(self.data, periods, periods.period_start(period))

    def member_for_index(self, periods: MemberPeriods, index: int) -> Member:
        return member_at(self.data, periods, index, max_history=self.builder.config.max_prefix_len)

    def _group(self, member: Member, targets: Sequence[Event], task_name: str) -> RankGroup:
        task = self.data.spec.task(task_name)
        prompt = self.builder.build(member, [candidate(self.data, e) for e in targets], task)
        return RankGroup(
            member_id=member.id,
            task=task_name,
            prefix_ids=prompt.prefix_ids,
            suffix_ids=prompt.suffix_ids,
            item_ids=tuple(e.item_id for e in targets),
            labels=tuple(e.label(task_name) for e in targets),
        )
