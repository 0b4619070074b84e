"""Connection hygiene under uvicorn's h11 protocol: a connection cap and a header read timeout.

uvicorn bounds neither: silent connections are held forever and, past the file-descriptor limit, every accept
fails. Here each connection must send a request's headers within `header_timeout_s` (when new, and again once it
starts sending on a kept-alive connection), and at `max_connections` the oldest idle connection is closed to make
room (nginx does the same with keep-alive connections), or, with none idle, the newcomer gets a bare 503.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from service.metrics import ServiceMetrics

_REFUSAL = b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\nretry-after: 1\r\n\r\n"


class ConnectionGuard:
    """The open connections, oldest first, and the cap on them (shared by every protocol instance)."""

    def __init__(self, max_connections: int, header_timeout_s: float, metrics: ServiceMetrics) -> None:
        self.max_connections = max_connections
        self.header_timeout_s = header_timeout_s
        self.metrics = metrics
        self.open: OrderedDict[GuardedH11Protocol, None] = OrderedDict()

    def admit(self, conn: GuardedH11Protocol) -> bool:
        """Make room for `conn` (closing the oldest idle connection) or say it must be refused."""
        if len(self.open) >= self.max_connections:
            victim = next((c for c in self.open if c.is_idle()), None)
            if victim is None:
                self.metrics.connections_closed.labels(reason="refused").inc()
                return False
            self.forget(victim)
            victim.transport.close()
            self.metrics.connections_closed.labels(reason="evicted_idle").inc()
        self.open[conn] = None
        self.metrics.open_connections.set(len(self.open))
        return True

    def forget(self, conn: GuardedH11Protocol) -> None:
        self.open.pop(conn, None)
        self.metrics.open_connections.set(len(self.open))


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the guard's cap and a header read timeout."""

    def __init__(self, *args: Any, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = guard
        self._header_timer: asyncio.TimerHandle | None = None

    def is_idle(self) -> bool:
        """No request in progress: between requests, or headers not complete yet."""
        return self.cycle is None or self.cycle.response_complete

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self.guard.admit(self):
            transport.write(_REFUSAL)
            transport.close()
            return
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        self.guard.forget(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self.is_idle():
            self._arm_header_timer()  # a kept-alive connection starts its next request
        super().data_received(data)

    def handle_events(self) -> None:
        super().handle_events()
        if not self.is_idle():
            self._disarm_header_timer()  # headers complete: the body has its own limit (BodyLimitMiddleware)

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.guard.header_timeout_s, self._on_header_timeout)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _on_header_timeout(self) -> None:
        self._header_timer = None
        if self.is_idle() and not self.transport.is_closing():
            self.guard.metrics.connections_closed.labels(reason="header_timeout").inc()
            self.transport.close()
