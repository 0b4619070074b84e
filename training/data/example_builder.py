"""MovieLens ratings -> ranking prompts (one member prefix, k candidate suffixes, labels), through PromptBuilder.

A training group is a member at a cutoff inside the train period: history and profile are the ratings strictly
before the cutoff, candidates are the next `group_size` train ratings. An evaluation group is a member at the
start of the val or test period: history is everything before that period, the profile the train period only,
candidates are that period's ratings. Every group is built by `PromptBuilder.build`, as the service builds its
prompts, so training and serving see the same tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ranking.prompt_builder import PromptBuilder, PromptConfig, TextEncoder
from training.data.member_builder import build_member, candidate
from training.data.movielens import Rating
from training.data.movielens_tasks import movielens_task
from training.data.split import ChronologicalSplit, MemberPeriods


@dataclass(frozen=True)
class RankGroup:
    """One member prefix for one task and k candidate suffixes, with each candidate's rating and label."""

    user_id: int
    task: str
    prefix_ids: tuple[int, ...]
    suffix_ids: tuple[tuple[int, ...], ...]
    movie_ids: tuple[int, ...]
    ratings: tuple[float, ...]
    labels: tuple[bool, ...]


class ExampleBuilder:
    """Samples training groups and enumerates evaluation groups for the given tasks."""

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
        self.movies = split.movies
        self.builder = PromptBuilder(tokenizer, prompt_config)
        self.tasks = [movielens_task(t).task for t in tasks]
        self.group_size = group_size
        self.min_history = min_history
        # Every train rating that has at least `min_history` earlier ratings can start a group.
        self._starts = [
            (u, i) for u, m in split.members.items() for i in range(min(min_history, m.val_start), m.val_start)
        ]
        if not self._starts:
            raise ValueError("no train-period ratings to build training groups from")

    @property
    def num_train_targets(self) -> int:
        return len(self._starts)

    def train_groups(self, rng: np.random.Generator, num_groups: int) -> list[RankGroup]:
        """`num_groups` groups at cutoffs drawn uniformly over train ratings, each with a random task."""
        picks = rng.integers(0, len(self._starts), size=num_groups)
        task_picks = rng.integers(0, len(self.tasks), size=num_groups)
        return [
            self.train_group(*self._starts[int(pick)], self.tasks[int(task_index)].name)
            for pick, task_index in zip(picks, task_picks, strict=True)
        ]

    def train_group(self, user_id: int, cutoff: int, task: str) -> RankGroup:
        """The group at train rating `cutoff`: history and profile strictly before it, the next ratings as targets."""
        periods = self.split.members[user_id]
        if not 0 <= cutoff < periods.val_start:
            raise ValueError(f"cutoff {cutoff} is outside user {user_id}'s train period")
        targets = periods.ratings[cutoff : min(cutoff + self.group_size, periods.val_start)]
        before = periods.ratings[:cutoff]
        return self._group(user_id, before, before, targets, task)

    def eval_groups(self, period: str, task: str, max_candidates: int = 32) -> list[RankGroup]:
        """Every member's `period` ratings as candidates, in chunks sharing that member's prefix."""
        groups = []
        for user_id, periods in self.split.members.items():
            targets = periods.period(period)
            if not targets:
                continue
            history = periods.ratings[: periods.period_start(period)]
            for start in range(0, len(targets), max_candidates):
                chunk = targets[start : start + max_candidates]
                groups.append(self._group(user_id, history, periods.train, chunk, task))
        return groups

    def member_for(self, periods: MemberPeriods, period: str):
        """The Member a client would send when ranking `period` items: history before it, train-period profile."""
        history = periods.ratings[: periods.period_start(period)]
        return build_member(periods.user_id, history, periods.train, self.movies)

    def _group(
        self,
        user_id: int,
        history: Sequence[Rating],
        profile_ratings: Sequence[Rating],
        targets: Sequence[Rating],
        task_name: str,
    ) -> RankGroup:
        member = build_member(
            user_id, history, profile_ratings, self.movies, max_history=self.builder.config.max_prefix_len
        )
        cands = [candidate(self.movies[r.movie_id]) for r in targets]
        labeling = movielens_task(task_name)
        prompt = self.builder.build(member, cands, labeling.task)
        return RankGroup(
            user_id=user_id,
            task=task_name,
            prefix_ids=prompt.prefix_ids,
            suffix_ids=prompt.suffix_ids,
            movie_ids=tuple(r.movie_id for r in targets),
            ratings=tuple(r.rating for r in targets),
            labels=tuple(labeling.is_positive(r.rating) for r in targets),
        )
