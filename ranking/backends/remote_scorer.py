"""The part every HTTP engine backend shares: deadlines, per-replica prefix warm-up, result checks."""

from __future__ import annotations

import hashlib
import math
from abc import abstractmethod
from collections import OrderedDict
from enum import StrEnum

from ranking.backends.engine_client import EngineClient, EngineClientConfig, EngineProtocolError
from ranking.routing.replica import ReplicaScorer
from ranking.scorer import ScoreBatch, ScoreResult, ScorerTimeoutError

# Below the smallest positive double: a probability the engine rounded to 0 still gets a finite log-prob.
MIN_LOGPROB = math.log(5e-324)


class PrefixWarmup(StrEnum):
    """When to send the member prefix alone before the k candidates.

    Engines can compute a shared, uncached prefix once per prompt when all k arrive together; sending it
    first makes the k prompts hit the cache. `new`: only for prefixes this replica has not seen recently.
    """

    NEVER = "never"
    NEW = "new"
    ALWAYS = "always"


def prefix_digest(prefix_ids: tuple[int, ...]) -> bytes:
    """A short fingerprint of a prefix, so the seen-prefix memory holds no token ids."""
    return hashlib.blake2b(repr(prefix_ids).encode(), digest_size=12).digest()


def logprob_of(probability: float) -> float:
    """log(p) for a probability an engine returned, floored so it stays finite."""
    return math.log(probability) if probability > 0 else MIN_LOGPROB


class RemoteScorer(ReplicaScorer):
    """A Scorer for one engine URL; subclasses build the engine's request and parse its answer."""

    health_path = "/health"

    def __init__(
        self,
        url: str,
        warmup: PrefixWarmup = PrefixWarmup.NEW,
        client_config: EngineClientConfig | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.warmup = warmup
        self.client = EngineClient(self.url, client_config)
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._seen_capacity = self.client.config.seen_prefixes

    async def close(self) -> None:
        await self.client.close()

    async def check_health(self, timeout_s: float) -> bool:
        return await self.client.get_ok(self.health_path, timeout_s)

    async def score(self, batch: ScoreBatch) -> ScoreResult:
        if not batch.suffix_ids:
            return ScoreResult((), 0, 0, self.name)
        if self._needs_warmup(batch.prefix_ids):
            await self._warm_prefix(batch, self._time_left(batch))
        result = await self._score(batch, self._time_left(batch))
        self._check(result, batch)
        self._remember(batch.prefix_ids)
        return result

    @abstractmethod
    async def _score(self, batch: ScoreBatch, timeout_s: float) -> ScoreResult:
        """One engine call (or a few) scoring all k prompts."""

    @abstractmethod
    async def _warm_prefix(self, batch: ScoreBatch, timeout_s: float) -> None:
        """Have the engine compute and cache `batch.prefix_ids` alone."""

    def _time_left(self, batch: ScoreBatch, default_s: float = 30.0) -> float:
        left = batch.seconds_left()
        if left is None:
            return default_s
        if left <= 0:
            raise ScorerTimeoutError("deadline passed before the engine call")
        return left

    def _needs_warmup(self, prefix_ids: tuple[int, ...]) -> bool:
        if self.warmup is PrefixWarmup.ALWAYS:
            return True
        return self.warmup is PrefixWarmup.NEW and prefix_digest(prefix_ids) not in self._seen

    def _remember(self, prefix_ids: tuple[int, ...]) -> None:
        """LRU of prefixes this replica has cached recently (the engine may still have evicted them)."""
        digest = prefix_digest(prefix_ids)
        self._seen[digest] = None
        self._seen.move_to_end(digest)
        while len(self._seen) > self._seen_capacity:
            self._seen.popitem(last=False)

    def _check(self, result: ScoreResult, batch: ScoreBatch) -> None:
        """One row per candidate, one finite-or-floored log-prob per label, none above 0."""
        if len(result.label_logprobs) != batch.num_candidates:
            raise EngineProtocolError(
                f"engine {self.url} returned {len(result.label_logprobs)} results for {batch.num_candidates} prompts"
            )
        for row in result.label_logprobs:
            if len(row) != len(batch.label_ids) or any(not (lp <= 1e-6) for lp in row):
                raise EngineProtocolError(f"engine {self.url} returned malformed label log-probs")
