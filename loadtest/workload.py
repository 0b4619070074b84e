"""Ranking requests drawn from MovieLens: who asks (new or repeat members), their history, k candidates.

A member's history is their ratings in time order, lengthened with older filler ratings of movies they never
rated (or cut to the most recent lines) until the prompt reaches about `context_tokens`, judged in characters
with a chars-per-token estimate. A repeat member is sent again with the same id, profile and history, so the
server sees a prompt prefix it has seen before (hot); a new member brings a prefix it has not (cold).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from loadtest.movielens import MovieLens
from loadtest.prompt_text import (
    EMPTY_HISTORY,
    HistoryLine,
    history_line_text,
    prefix_text,
    pseudo_rate,
    suffix_text,
)
from ranking.tasks import Task

DAY_S = 86_400
MAX_K = 1024


@dataclass(frozen=True)
class WorkloadConfig:
    """Shape of the requests: k candidates each, about `context_tokens` of prompt, repeat members with p.

    `task` comes from the served model's card (`--model DIR` or the gateway's GET /v1/models), and so does
    `label_rates` / `similar_rates` (the card's prompt config): whether engine-direct prompt texts show them.
    """

    task: Task
    label_rates: bool = False
    similar_rates: bool = False
    k: int = 8
    context_tokens: int = 1024
    repeat_fraction: float = 0.0
    chars_per_token: float = 4.0
    score_type: str = "probability"
    namespace: str = "lt"
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.k <= MAX_K:
            raise ValueError(f"k must be between 1 and {MAX_K} candidates, got {self.k}")
        if self.context_tokens < 64:
            raise ValueError(f"context_tokens must be >= 64, got {self.context_tokens}")
        if not 0.0 <= self.repeat_fraction <= 1.0:
            raise ValueError(f"repeat_fraction must be in [0, 1], got {self.repeat_fraction}")
        if not self.chars_per_token > 0:
            raise ValueError(f"chars_per_token must be > 0, got {self.chars_per_token}")


@dataclass(frozen=True)
class MemberRecord:
    """A member as sent: the same object every time a repeat member comes back."""

    id: str
    profile: dict[str, Any]
    history: tuple[HistoryLine, ...]
    rated_ids: frozenset[int]


@dataclass(frozen=True)
class WorkItem:
    """One ranking request: a member, k candidates `(id, text)`, and whether the member was sent before."""

    member: MemberRecord
    candidates: tuple[tuple[str, str], ...]
    is_repeat: bool
    task: Task
    score_type: str
    label_rates: bool = False
    similar_rates: bool = False

    def rank_body(self) -> dict[str, Any]:
        """The JSON body of the gateway's `POST /rank`."""
        return {
            "member": {
                "id": self.member.id,
                "profile": self.member.profile,
                "history": [
                    {"item": h.item, "action": h.action, "timestamp": h.timestamp} for h in self.member.history
                ],
                # Always sent: models whose card shows label rates need them, the others ignore them.
                "label_rates": {self.task.name: pseudo_rate(self.member.id)},
            },
            "candidates": [
                {
                    "id": cid,
                    "text": text,
                    "label_rates": {self.task.name: pseudo_rate(cid)},
                    "similar_rates": {self.task.name: self._similar_rate(cid)},
                }
                for cid, text in self.candidates
            ],
            "task": self.task.name,
            "top_n": len(self.candidates),
            "score_type": self.score_type,
        }

    def prompt_texts(self) -> list[str]:
        """The k full prompts as text (shared member prefix + candidate suffix), for engine-direct targets."""
        if not self.label_rates:
            prefix = prefix_text(self.member.profile, self.member.history, self.task)
            return [prefix + suffix_text(text, self.task) for _, text in self.candidates]
        prefix = prefix_text(self.member.profile, self.member.history, self.task, pseudo_rate(self.member.id))
        return [
            prefix
            + suffix_text(text, self.task, pseudo_rate(cid), self._similar_rate(cid) if self.similar_rates else None)
            for cid, text in self.candidates
        ]

    def _similar_rate(self, candidate_id: str) -> float:
        """The pseudo similar-items rate of a candidate for this member: always sent, shown where the card says."""
        return pseudo_rate(f"{self.member.id}/{candidate_id}")


class Workload:
    """Draws WorkItems for one configuration; the same seed gives the same members, histories, candidates."""

    def __init__(self, data: MovieLens, config: WorkloadConfig) -> None:
        self.data = data
        self.config = config
        self._rng = random.Random(f"{config.seed}/requests")
        self._new_order = list(data.member_ids)
        random.Random(f"{config.seed}/members").shuffle(self._new_order)
        self._num_new = 0
        self._sent: list[MemberRecord] = []

    def items(self, num_items: int) -> list[WorkItem]:
        """The next `num_items` requests in send order."""
        return [self.next_item() for _ in range(num_items)]

    def next_item(self) -> WorkItem:
        """A repeat member with probability `repeat_fraction` (once any was sent), else a new one."""
        is_repeat = bool(self._sent) and self._rng.random() < self.config.repeat_fraction
        member = self._rng.choice(self._sent) if is_repeat else self._new_member()
        cfg = self.config
        cands = self._candidates(member)
        return WorkItem(member, cands, is_repeat, cfg.task, cfg.score_type, cfg.label_rates, cfg.similar_rates)

    def _new_member(self) -> MemberRecord:
        # Past the last MovieLens member the ids come round again as a new cohort with a different profile,
        # so a cold request never shares more than the instruction with an earlier one.
        n = len(self._new_order)
        uid, cohort = self._new_order[self._num_new % n], self._num_new // n
        self._num_new += 1
        member = self.build_member(uid, cohort)
        self._sent.append(member)
        return member

    def build_member(self, uid: int, cohort: int = 0) -> MemberRecord:
        """MovieLens member `uid` with a history sized to the configured context length."""
        cfg = self.config
        ratings = self.data.ratings[uid]
        since = time.gmtime(ratings[0].timestamp).tm_year
        profile = {"member_since": since, "ratings": len(ratings), "panel": f"{cfg.namespace}-{cohort}"}
        real = [HistoryLine(self.data.movies[r.movie_id], _action(r.rating), r.timestamp) for r in ratings]
        rated = frozenset(r.movie_id for r in ratings)
        budget = self._history_budget_chars(profile)
        history = self._fit(real, budget, rated, random.Random(f"{cfg.seed}/{uid}/{cohort}/filler"))
        return MemberRecord(f"{cfg.namespace}-ml{uid}-{cohort}", profile, tuple(history), rated)

    def _history_budget_chars(self, profile: dict[str, Any]) -> int:
        """Characters of history that bring the prompt (with an average candidate) to the target length."""
        cfg = self.config
        overhead = len(prefix_text(profile, [], cfg.task)) - len(EMPTY_HISTORY)
        overhead += len(suffix_text("A Typical Movie Title (1999) | Comedy|Drama", cfg.task))
        return max(0, int(cfg.context_tokens * cfg.chars_per_token) - overhead)

    def _fit(
        self, real: list[HistoryLine], budget: int, rated: frozenset[int], rng: random.Random
    ) -> list[HistoryLine]:
        """Most recent real lines that fit; if all fit, older filler ratings are put before them."""
        kept: list[HistoryLine] = []
        used = 0
        for line in reversed(real):
            size = len(history_line_text(line))
            if used + size > budget:
                return kept[::-1]
            kept.append(line)
            used += size
        filler: list[HistoryLine] = []
        first_ts = real[0].timestamp if real else 0
        pool = [m for m in self.data.movie_ids if m not in rated]
        rng.shuffle(pool)
        ratings = [_action(r) for r in (1.0, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0)]
        for movie_id in pool:
            line = HistoryLine(self.data.movies[movie_id], rng.choice(ratings), first_ts - DAY_S * (len(filler) + 1))
            size = len(history_line_text(line))
            if used + size > budget:
                break
            filler.append(line)
            used += size
        return filler[::-1] + kept[::-1]

    def _candidates(self, member: MemberRecord) -> tuple[tuple[str, str], ...]:
        """k movies the member never rated and that are not in their shown history."""
        shown = {h.item for h in member.history}
        chosen: list[tuple[str, str]] = []
        seen: set[int] = set()
        while len(chosen) < self.config.k:
            movie_id = self._rng.choice(self.data.movie_ids)
            text = self.data.movies[movie_id]
            if movie_id in member.rated_ids or movie_id in seen or text in shown:
                continue
            seen.add(movie_id)
            chosen.append((f"m{movie_id}", text))
        return tuple(chosen)


def _action(rating: float) -> str:
    return f"rated {rating:g}"
