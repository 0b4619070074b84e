"""An in-process ReplicaScorer with scripted behaviour, for router tests without any server."""

from __future__ import annotations

import asyncio

from ranking.routing.replica import ReplicaScorer
from ranking.routing.routed_scorer import NonRetryableScorerError
from ranking.scorer import ScoreBatch, ScoreResult, ScorerOverloadedError, ScorerUnavailableError


class FakeReplica(ReplicaScorer):
    """`mode`: ok | fail | hang | reject | overloaded; counts calls; health answers `is_up`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.mode = "ok"
        self.is_up = True
        self.calls = 0
        self.delay_s = 0.0

    async def check_health(self, timeout_s: float) -> bool:
        if self.mode == "hang":
            await asyncio.sleep(60)
        return self.is_up

    async def score(self, batch: ScoreBatch) -> ScoreResult:
        self.calls += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.mode == "fail":
            raise ScorerUnavailableError(f"engine {self.url} failed (HTTP 500)")
        if self.mode == "overloaded":
            raise ScorerOverloadedError(f"engine {self.url} is overloaded (HTTP 429)")
        if self.mode == "reject":
            raise NonRetryableScorerError(f"engine {self.url} rejected the request (HTTP 400)")
        if self.mode == "hang":
            await asyncio.sleep(60)
        rows = tuple((-1.0, -2.0) for _ in batch.suffix_ids)
        return ScoreResult(rows, batch.prompt_tokens, len(batch.prefix_ids), engine=self.url)
