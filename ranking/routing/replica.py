"""One engine replica as the router sees it: its client, health, circuit breaker, load and stats."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field

from ranking.routing.circuit_breaker import CircuitBreaker
from ranking.routing.replica_stats import ReplicaStats
from ranking.scorer import MetricSample, Scorer


class ReplicaScorer(Scorer):
    """A Scorer bound to one engine URL that can also say whether that engine can generate right now."""

    url: str

    @abstractmethod
    async def check_health(self, timeout_s: float) -> bool:
        """True when the engine answered its real-generation health check in time."""


@dataclass
class Replica:
    """Router-side state of one replica; `is_healthy` flips only after consecutive health-check results."""

    scorer: ReplicaScorer
    breaker: CircuitBreaker
    stats: ReplicaStats = field(default_factory=ReplicaStats)
    is_healthy: bool = False
    num_in_flight: int = 0
    consecutive_failures: int = 0
    consecutive_successes: int = 0

    @property
    def url(self) -> str:
        return self.scorer.url

    def is_routable(self) -> bool:
        """Healthy and its circuit not open: worth sending a request to."""
        return self.is_healthy and not self.breaker.is_open()

    def samples(self) -> list[MetricSample]:
        """Stats plus the health gauge and circuit state (0 closed, 1 half open, 2 open)."""
        labels = (("replica", self.url),)
        state_code = {"closed": 0.0, "half_open": 1.0, "open": 2.0}[self.breaker.state.value]
        return [
            *self.stats.samples(self.url),
            MetricSample("replica_healthy", "gauge", float(self.is_healthy), "1 if the replica passes health", labels),
            MetricSample("replica_circuit_state", "gauge", state_code, "0 closed, 1 half open, 2 open", labels),
            MetricSample("replica_in_flight", "gauge", float(self.num_in_flight), "Requests in flight", labels),
        ]
