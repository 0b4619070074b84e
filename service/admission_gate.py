"""ASGI middleware: admission control before a scoring request's body is read, and the drain after SIGTERM.

Work that cannot be served in time is refused at once (503 `overloaded` + Retry-After) instead of being parsed,
tokenised and queued only to miss its deadline: under overload the admitted requests keep their latency and the
rest learn within a millisecond that they should retry elsewhere. Sheds are counted in metrics, never logged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import RequestRejectedError
from service.raw_error import send_error
from service.state import ServiceState

SCORING_PATHS = frozenset({"/rank", "/v1/rerank"})


class AdmissionGate:
    """At most `state.settings.max_in_flight` scoring requests at once; `Connection: close` while draining."""

    def __init__(self, app: ASGIApp, state: ServiceState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self._closing_when_draining(send)
        if scope["path"] not in SCORING_PATHS:
            await self.app(scope, receive, send)
            return
        state = self.state
        if state.num_admitted >= state.settings.max_in_flight:
            state.metrics.shed.labels(reason="in_flight").inc()
            state.metrics.errors.labels(reason="overloaded").inc()
            await send_error(send, 503, "overloaded", "the service is at capacity; retry shortly", (), _RETRY)
            return
        state.num_admitted += 1
        try:
            await self.app(scope, receive, send)
        finally:
            state.num_admitted -= 1

    def _closing_when_draining(self, send: Send) -> Send:
        """Add `Connection: close` to a response started once the drain has begun."""

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start" and self.state.is_draining:
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        return wrapped


_RETRY = [(b"retry-after", b"1")]


@contextmanager
def candidate_budget(state: ServiceState, num_candidates: int) -> Iterator[None]:
    """Hold `num_candidates` of SLMRANK_MAX_IN_FLIGHT_CANDIDATES while a parsed request is scored; over the
    budget it is refused (503 overloaded) before tokenisation. A request alone is always let through."""
    limit = state.settings.max_in_flight_candidates
    if state.num_candidates > 0 and state.num_candidates + num_candidates > limit:
        state.metrics.shed.labels(reason="candidates").inc()
        raise RequestRejectedError(503, "overloaded", "the service is at capacity; retry shortly", retry_after_s=1)
    state.num_candidates += num_candidates
    try:
        yield
    finally:
        state.num_candidates -= num_candidates
