"""The connection cap's bookkeeping (plain Python): the oldest idle connection makes room, else the new one is
refused, and each is counted."""

from __future__ import annotations

from service.connection_guard import ConnectionGuard
from service.metrics import ServiceMetrics


class FakeTransport:
    def __init__(self) -> None:
        self.is_closed = False

    def close(self) -> None:
        self.is_closed = True


class FakeConnection:
    def __init__(self, is_idle: bool) -> None:
        self.idle = is_idle
        self.transport = FakeTransport()

    def is_idle(self) -> bool:
        return self.idle


def closed(metrics: ServiceMetrics, reason: str) -> float:
    return metrics.registry.get_sample_value("slmrank_connections_closed_total", {"reason": reason}) or 0.0


def test_the_oldest_idle_connection_makes_room() -> None:
    metrics = ServiceMetrics()
    guard = ConnectionGuard(3, 5.0, metrics)
    busy, old_idle, new_idle = FakeConnection(False), FakeConnection(True), FakeConnection(True)
    for conn in (busy, old_idle, new_idle):
        assert guard.admit(conn)  # type: ignore[arg-type]
    newcomer = FakeConnection(True)
    assert guard.admit(newcomer)  # type: ignore[arg-type]
    assert old_idle.transport.is_closed and not busy.transport.is_closed and not new_idle.transport.is_closed
    assert list(guard.open) == [busy, new_idle, newcomer]
    assert closed(metrics, "evicted_idle") == 1
    assert metrics.registry.get_sample_value("slmrank_open_connections") == 3


def test_with_every_connection_busy_the_newcomer_is_refused() -> None:
    metrics = ServiceMetrics()
    guard = ConnectionGuard(2, 5.0, metrics)
    busy = [FakeConnection(False), FakeConnection(False)]
    for conn in busy:
        assert guard.admit(conn)  # type: ignore[arg-type]
    assert not guard.admit(FakeConnection(True))  # type: ignore[arg-type]
    assert closed(metrics, "refused") == 1
    assert not any(c.transport.is_closed for c in busy)
    guard.forget(busy[0])
    assert guard.admit(FakeConnection(True))  # type: ignore[arg-type]
