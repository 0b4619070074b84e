"""The set of replicas behind a router: membership changes, health bookkeeping, and the order to try them."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ranking.routing.circuit_breaker import CircuitBreaker, CircuitBreakerConfig
from ranking.routing.rendezvous_hash import RendezvousHash
from ranking.routing.replica import Replica, ReplicaScorer


class ReplicaSet:
    """Replicas keyed by URL; `route(key)` gives the routable ones in the order to try for that key."""

    def __init__(
        self,
        factory: Callable[[str], ReplicaScorer],
        hashing: RendezvousHash | None = None,
        breaker_config: CircuitBreakerConfig | None = None,
    ) -> None:
        self._factory = factory
        self.hashing = hashing or RendezvousHash()
        self._breaker_config = breaker_config or CircuitBreakerConfig()
        self.replicas: dict[str, Replica] = {}

    def set_endpoints(self, urls: Iterable[str]) -> list[Replica]:
        """Make the set exactly `urls`; new ones start unhealthy until checked. Returns the removed."""
        wanted = list(dict.fromkeys(u.rstrip("/") for u in urls))
        removed = [r for url, r in self.replicas.items() if url not in wanted]
        for replica in removed:
            del self.replicas[replica.url]
        for url in wanted:
            if url not in self.replicas:
                self.replicas[url] = Replica(self._factory(url), CircuitBreaker(self._breaker_config))
        return removed

    def route(self, key: str) -> list[Replica]:
        """Routable replicas, the key's bounded-load choice first, then the rest in the key's hash order.

        If no replica is healthy, every replica whose circuit is not open is tried ("panic" routing, as in
        Envoy): a health probe can fail on a slow but working engine, and trying costs less than a certain 503.
        """
        pool = [r for r in self.replicas.values() if r.is_routable()]
        if not pool:
            pool = [r for r in self.replicas.values() if not r.breaker.is_open()]
        by_url = {r.url: r for r in pool}
        loads = {url: r.num_in_flight for url, r in by_url.items()}
        return [by_url[url] for url in self.hashing.pick(key, list(by_url), loads)]

    def record_health(self, replica: Replica, is_ok: bool, failure_threshold: int, success_threshold: int) -> None:
        """Eject after `failure_threshold` failed checks in a row; re-admit after `success_threshold`."""
        if is_ok:
            replica.consecutive_successes += 1
            replica.consecutive_failures = 0
            if replica.consecutive_successes >= success_threshold:
                if not replica.is_healthy:
                    replica.breaker.record_success()  # a re-admitted replica starts with a closed circuit
                replica.is_healthy = True
        else:
            replica.consecutive_failures += 1
            replica.consecutive_successes = 0
            if replica.consecutive_failures >= failure_threshold:
                replica.is_healthy = False

    def num_healthy(self) -> int:
        return sum(r.is_healthy for r in self.replicas.values())
