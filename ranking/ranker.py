"""Rank candidates for a member: build prompts, score them with a Scorer, order by score."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ranking.card import ModelCard
from ranking.labels import LabelTokens
from ranking.member import Candidate, Member
from ranking.prompt_builder import PromptBuilder
from ranking.scorer import ScoreBatch, Scorer
from ranking.scores import ScoreType, score_from_logprobs


@dataclass(frozen=True)
class RankedCandidate:
    """A candidate with its score and 1-based rank (ties keep the order they were sent in)."""

    candidate: Candidate
    score: float
    rank: int


@dataclass(frozen=True)
class Ranking:
    """The ordered candidates (cut to top_n) and what scoring them cost."""

    ranked: tuple[RankedCandidate, ...]
    num_candidates: int
    prompt_tokens: int
    cached_tokens: int
    num_history_shown: int
    engine_ms: float


def member_key(member_id: str) -> str:
    """A stable, non-reversible routing key, so routers and logs never carry the raw member id."""
    return hashlib.blake2b(member_id.encode(), digest_size=8).hexdigest()


def order_by_score(candidates: Sequence[Candidate], scores: Sequence[float]) -> list[RankedCandidate]:
    """Highest score first; equal scores keep input order (a stable sort), so ranking is deterministic."""
    order = sorted(range(len(candidates)), key=lambda i: -scores[i])
    return [RankedCandidate(candidates[i], scores[i], rank) for rank, i in enumerate(order, start=1)]


class Ranker:
    """The domain entry point the HTTP layer calls."""

    def __init__(
        self,
        builder: PromptBuilder,
        scorer: Scorer,
        label_tokens: Mapping[str, LabelTokens],
        card: ModelCard,
        default_task: str | None = None,
    ) -> None:
        self.builder = builder
        self.scorer = scorer
        self.label_tokens = dict(label_tokens)
        self.card = card
        self.default_task = default_task or card.default_task

    @property
    def model_name(self) -> str:
        return self.card.model_name

    @property
    def tasks(self) -> list[str]:
        """The tasks of the model's card, the default first."""
        return self.card.task_names

    async def rank(
        self,
        member: Member,
        candidates: Sequence[Candidate],
        task_name: str,
        top_n: int | None = None,
        score_type: ScoreType = ScoreType.PROBABILITY,
        deadline: float | None = None,
    ) -> Ranking:
        """Score every candidate for `member` under `task_name` and return them best first."""
        task = self.card.task(task_name)
        labels = self.label_tokens[task_name]
        # Tokenising a long history is a few ms of CPU: keep it off the event loop.
        prompt = await asyncio.to_thread(self.builder.build, member, candidates, task)
        batch = ScoreBatch(
            prompt.prefix_ids, prompt.suffix_ids, labels.ids, member_key(member.id), deadline, normalise_over="labels"
        )
        started = time.perf_counter()
        result = await self.scorer.score(batch)
        engine_ms = (time.perf_counter() - started) * 1000.0
        scores = [score_from_logprobs(lp[0], lp[1], score_type) for lp in result.label_logprobs]
        ranked = order_by_score(candidates, scores)
        if top_n is not None:
            ranked = ranked[:top_n]
        return Ranking(
            tuple(ranked),
            len(candidates),
            result.prompt_tokens,
            result.cached_tokens,
            prompt.num_history_shown,
            engine_ms,
        )
