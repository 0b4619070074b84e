"""A per-replica circuit breaker: after repeated failures, stop sending to a replica for a while."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class BreakerState(StrEnum):
    """closed: traffic flows; open: none for `open_s`; half_open: a few probes decide which way it goes."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class CircuitBreakerConfig:
    """Consecutive failures that open the circuit, how long it stays open, probes allowed when half open."""

    failure_threshold: int = field(default=3, metadata={"help": "Failures in a row that open a replica's circuit."})
    open_s: float = field(default=5.0, metadata={"help": "Seconds an open circuit sends the replica nothing."})
    half_open_max_probes: int = field(default=1, metadata={"help": "Requests let through to test a half-open circuit."})

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.half_open_max_probes < 1 or self.open_s < 0:
            raise ValueError("CircuitBreakerConfig: thresholds must be >= 1 and open_s >= 0")


class CircuitBreaker:
    """Counts consecutive failures; `allow()` says whether a request may go to the replica now."""

    def __init__(self, config: CircuitBreakerConfig | None = None, clock: Callable[[], float] = time.monotonic):
        self.config = config or CircuitBreakerConfig()
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probes = 0

    @property
    def state(self) -> BreakerState:
        """The state now; an open circuit turns half open once `open_s` has passed."""
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.config.open_s:
            self._state = BreakerState.HALF_OPEN
            self._probes = 0
        return self._state

    def is_open(self) -> bool:
        """True while requests must not go to the replica (ignoring the half-open probe budget)."""
        return self.state is BreakerState.OPEN

    def allow(self) -> bool:
        """Take permission for one request: always when closed, a bounded number of probes when half open."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and self._probes < self.config.half_open_max_probes:
            self._probes += 1
            return True
        return False

    def record_success(self) -> None:
        """A request succeeded: close the circuit and forget past failures."""
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._probes = 0

    def record_failure(self) -> None:
        """A failure: open after `failure_threshold` in a row, or at once if a half-open probe failed."""
        self._failures += 1
        if self.state is BreakerState.HALF_OPEN or self._failures >= self.config.failure_threshold:
            self._state = BreakerState.OPEN
            self._opened_at = self._clock()
            self._probes = 0
