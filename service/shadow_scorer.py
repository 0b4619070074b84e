"""Shadow scoring: a second model ranks the same request off the response path; its result goes only to metrics.

The response never waits for it and never sees its errors: the work is a detached task, bounded by
`max_in_flight` (beyond that a shadow scoring is dropped, not queued) and by its own deadline.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from ranking.member import Candidate, Member
from ranking.ranker import Ranker, Ranking
from ranking.variant_policy import unit_hash
from service.models_config import ShadowConfig
from service.variant_metrics import VariantMetrics

log = logging.getLogger(__name__)


def spearman(primary_ids: Sequence[str], shadow_ids: Sequence[str]) -> float:
    """Rank correlation of two orders of the same ids (1 = same order, -1 = reversed)."""
    n = len(primary_ids)
    if n < 2:
        return 1.0
    position = {cid: i for i, cid in enumerate(shadow_ids)}
    d2 = sum((i - position[cid]) ** 2 for i, cid in enumerate(primary_ids))
    return 1.0 - 6.0 * d2 / (n * (n * n - 1))


class ShadowScorer:
    """Schedules shadow scorings for the primary models' requests and records how they compare."""

    def __init__(self, ranker: Ranker, name: str, config: ShadowConfig, metrics: VariantMetrics, salt: str) -> None:
        self.ranker = ranker
        self.name = name
        self.config = config
        self.metrics = metrics
        self.salt = salt
        self._tasks: set[asyncio.Task[None]] = set()

    def is_chosen(self, member_id: str) -> bool:
        """A sticky `fraction` of members is shadowed."""
        return unit_hash(self.salt, "shadow", member_id) < self.config.fraction

    def submit(
        self, primary: str, member: Member, candidates: Sequence[Candidate], task: str, ranking: Ranking
    ) -> None:
        """Start a shadow scoring of this request unless it is not chosen, over capacity, or lacks the task."""
        if primary == self.name or not self.is_chosen(member.id):
            return
        counter = self.metrics.shadow_requests
        if task not in self.ranker.tasks:
            counter.labels(self.name, primary, "skipped").inc()
            return
        if len(self._tasks) >= self.config.max_in_flight:
            counter.labels(self.name, primary, "dropped").inc()
            return
        job = asyncio.create_task(self._run(primary, member, list(candidates), task, ranking))
        self._tasks.add(job)
        job.add_done_callback(self._tasks.discard)

    async def _run(
        self, primary: str, member: Member, candidates: list[Candidate], task: str, ranking: Ranking
    ) -> None:
        started = time.perf_counter()
        deadline = time.monotonic() + self.config.timeout_s
        try:
            shadow = await asyncio.wait_for(
                self.ranker.rank(member, candidates, task, deadline=deadline), self.config.timeout_s
            )
        except Exception as exc:  # a shadow failure is a metric, never the response's problem
            self.metrics.shadow_requests.labels(self.name, primary, "error").inc()
            log.info("shadow scoring on %s failed: %s", self.name, type(exc).__name__)
            return
        self.metrics.shadow_latency.labels(self.name, primary).observe(time.perf_counter() - started)
        self.metrics.shadow_requests.labels(self.name, primary, "ok").inc()
        shown = [r.candidate.id for r in ranking.ranked]
        keep = set(shown)
        shadow_ids = [r.candidate.id for r in shadow.ranked if r.candidate.id in keep]
        self.metrics.shadow_agreement.labels(self.name, primary).observe(spearman(shown, shadow_ids))
        if shown and shadow.ranked and shadow.ranked[0].candidate.id == shown[0]:
            self.metrics.shadow_top1.labels(self.name, primary).inc()

    async def close(self) -> None:
        """Cancel shadow scorings still running (at shutdown)."""
        for job in list(self._tasks):
            job.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
