"""A Scorer over several engine replicas: member affinity, one retry on the next replica, failover."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field, replace

from ranking.routing.endpoint_resolver import EndpointResolver
from ranking.routing.health_checker import HealthChecker
from ranking.routing.replica import Replica
from ranking.routing.replica_set import ReplicaSet
from ranking.scorer import (
    MetricSample,
    ScoreBatch,
    Scorer,
    ScorerError,
    ScoreResult,
    ScorerOverloadedError,
    ScorerTimeoutError,
    ScorerUnavailableError,
)

log = logging.getLogger(__name__)


class NonRetryableScorerError(ScorerError):
    """The request itself was refused (HTTP 4xx): another replica would refuse it too."""


@dataclass(frozen=True)
class RoutedScorerConfig:
    """Attempts per batch, default deadline, and the share of the time left the first attempt may use."""

    max_attempts: int = field(default=2, metadata={"help": "Replicas tried per batch (a retry goes to the next one)."})
    default_timeout_s: float = field(default=10.0, metadata={"help": "Deadline of a batch that brings none, seconds."})
    first_attempt_share: float = field(
        default=0.6, metadata={"help": "Share of the time left the first attempt may use when a retry can follow."}
    )
    refresh_interval_s: float = field(default=10.0, metadata={"help": "Re-resolve engine_dns every so many seconds."})

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.default_timeout_s <= 0 or not 0 < self.first_attempt_share <= 1:
            raise ValueError("RoutedScorerConfig: max_attempts >= 1, default_timeout_s > 0, share in (0, 1]")


class RoutedScorer(Scorer):
    """Routes each batch by `member_key` so a member's prefix stays cached on one replica.

    Scoring is idempotent, so a failed or timed-out attempt is retried once on the next replica in the
    member's hash order, within the batch deadline. A background task re-resolves DNS and health-checks.
    """

    def __init__(
        self,
        replica_set: ReplicaSet,
        health_checker: HealthChecker,
        config: RoutedScorerConfig | None = None,
        resolver: EndpointResolver | None = None,
        name: str = "routed",
    ) -> None:
        self.replica_set = replica_set
        self.health_checker = health_checker
        self.config = config or RoutedScorerConfig()
        self.resolver = resolver
        self.name = name
        self._task: asyncio.Task[None] | None = None
        self._last_refresh = 0.0
        self._started = False

    async def start(self) -> None:
        """Resolve endpoints, run a first health round, then keep both fresh in the background."""
        await self._refresh_endpoints()
        await self.health_checker.check_once()
        self._started = True
        self._task = asyncio.create_task(self._maintain())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.gather(*(r.scorer.close() for r in self.replica_set.replicas.values()))

    def is_ready(self) -> bool:
        return self._started and self.replica_set.num_healthy() > 0

    async def score(self, batch: ScoreBatch) -> ScoreResult:
        deadline = batch.deadline if batch.deadline is not None else time.monotonic() + self.config.default_timeout_s
        batch = replace(batch, deadline=deadline)
        candidates = self.replica_set.route(batch.member_key)
        if not candidates:
            raise ScorerUnavailableError("no healthy engine replica (all down or circuits open)")
        errors: list[ScorerError] = []
        for replica in candidates:
            if len(errors) >= self.config.max_attempts:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                raise ScorerTimeoutError("deadline passed before an engine replica answered")
            if not replica.breaker.allow():
                continue
            is_last = len(errors) + 1 >= min(self.config.max_attempts, len(candidates))
            budget = left if is_last else left * self.config.first_attempt_share
            try:
                return await self._attempt(replica, batch, budget)
            except NonRetryableScorerError:
                raise
            except ScorerError as exc:
                errors.append(exc)
        if not errors:
            raise ScorerUnavailableError("every engine replica has an open circuit")
        if all(isinstance(e, ScorerOverloadedError) for e in errors):
            raise ScorerOverloadedError(f"{len(errors)} engine replica(s) overloaded")
        if all(isinstance(e, ScorerTimeoutError) for e in errors):
            raise ScorerTimeoutError(f"{len(errors)} engine attempt(s) timed out")
        raise ScorerUnavailableError(f"{len(errors)} engine attempt(s) failed; last: {errors[-1]}")

    async def _attempt(self, replica: Replica, batch: ScoreBatch, budget_s: float) -> ScoreResult:
        """One try on one replica, bounded by `budget_s`; books stats and the circuit breaker."""
        replica.num_in_flight += 1
        started = time.perf_counter()
        try:
            result = await asyncio.wait_for(replica.scorer.score(batch), budget_s)
        except (NonRetryableScorerError, ScorerOverloadedError):
            # the request's fault, or load shedding: neither says the replica is broken, so the circuit stays
            replica.stats.record(time.perf_counter() - started, is_error=True)
            raise
        except (ScorerError, TimeoutError) as exc:
            replica.stats.record(time.perf_counter() - started, is_error=True)
            replica.breaker.record_failure()
            log.warning("engine replica %s failed: %s", replica.url, type(exc).__name__)
            if isinstance(exc, TimeoutError):
                raise ScorerTimeoutError(f"engine replica timed out after {budget_s:.2f}s") from None
            raise
        finally:
            replica.num_in_flight -= 1
        replica.breaker.record_success()
        replica.stats.record(time.perf_counter() - started, result.prompt_tokens, result.cached_tokens)
        return result

    def metrics(self) -> list[MetricSample]:
        samples = [s for r in self.replica_set.replicas.values() for s in r.samples()]
        samples.append(
            MetricSample("replicas_healthy", "gauge", self.replica_set.num_healthy(), "Healthy engine replicas")
        )
        return samples

    async def _maintain(self) -> None:
        """Health rounds every interval; DNS re-resolution every `refresh_interval_s`."""
        while True:
            await asyncio.sleep(self.health_checker.config.interval_s)
            try:
                if time.monotonic() - self._last_refresh >= self.config.refresh_interval_s:
                    await self._refresh_endpoints()
                await self.health_checker.check_once()
            except Exception:  # the loop must survive anything a probe or resolver throws
                log.exception("replica maintenance round failed")

    async def _refresh_endpoints(self) -> None:
        """Re-resolve DNS; an empty answer keeps the current set (health checks eject dead replicas)."""
        self._last_refresh = time.monotonic()
        if self.resolver is None:
            return
        urls = await self.resolver.resolve()
        if not urls:
            return
        for gone in self.replica_set.set_endpoints(urls):
            await gone.scorer.close()
