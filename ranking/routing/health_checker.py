"""Periodic health checks of every replica on the engine's real-generation endpoint."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ranking.routing.replica import Replica
from ranking.routing.replica_set import ReplicaSet


@dataclass(frozen=True)
class HealthCheckerConfig:
    """How often to probe, how long a probe may take, and how many results in a row flip a replica."""

    interval_s: float = field(default=2.0, metadata={"help": "Seconds between health-check rounds."})
    timeout_s: float = field(default=5.0, metadata={"help": "Seconds a health probe may take."})
    failure_threshold: int = field(default=2, metadata={"help": "Failed probes in a row that eject a replica."})
    success_threshold: int = field(default=1, metadata={"help": "Passed probes in a row that re-admit it."})

    def __post_init__(self) -> None:
        if self.interval_s <= 0 or self.timeout_s <= 0:
            raise ValueError("HealthCheckerConfig: interval_s and timeout_s must be > 0")
        if self.failure_threshold < 1 or self.success_threshold < 1:
            raise ValueError("HealthCheckerConfig: thresholds must be >= 1")


class HealthChecker:
    """Probes all replicas concurrently and records the results in the ReplicaSet."""

    def __init__(self, replica_set: ReplicaSet, config: HealthCheckerConfig | None = None) -> None:
        self.replica_set = replica_set
        self.config = config or HealthCheckerConfig()

    async def check_once(self) -> None:
        """One round: every replica probed once, in parallel."""
        replicas = list(self.replica_set.replicas.values())
        results = await asyncio.gather(*(self._probe(r) for r in replicas))
        for replica, is_ok in zip(replicas, results, strict=True):
            self.replica_set.record_health(replica, is_ok, self.config.failure_threshold, self.config.success_threshold)

    async def _probe(self, replica: Replica) -> bool:
        """A probe that raises or overruns counts as a failure."""
        try:
            return await asyncio.wait_for(replica.scorer.check_health(self.config.timeout_s), self.config.timeout_s)
        except Exception:
            return False
