"""Circuit breaker state machine on a fake clock."""

from __future__ import annotations

import pytest

from ranking.routing.circuit_breaker import BreakerState, CircuitBreaker, CircuitBreakerConfig


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make(threshold: int = 3, open_s: float = 5.0) -> tuple[CircuitBreaker, Clock]:
    clock = Clock()
    return CircuitBreaker(CircuitBreakerConfig(failure_threshold=threshold, open_s=open_s), clock), clock


def test_opens_after_consecutive_failures_only():
    breaker, _ = make(threshold=3)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()


def test_half_open_after_timeout_allows_one_probe():
    breaker, clock = make(threshold=1, open_s=5.0)
    breaker.record_failure()
    clock.now = 4.9
    assert not breaker.allow()
    clock.now = 5.0
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow() and not breaker.allow()


def test_probe_success_closes_and_probe_failure_reopens():
    breaker, clock = make(threshold=2, open_s=1.0)
    breaker.record_failure()
    breaker.record_failure()
    clock.now = 1.0
    assert breaker.allow()
    breaker.record_failure()  # one failed probe is enough to reopen
    assert breaker.state is BreakerState.OPEN
    clock.now = 2.0
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow() and breaker.allow()


def test_bad_config_is_rejected():
    with pytest.raises(ValueError):
        CircuitBreakerConfig(failure_threshold=0)
