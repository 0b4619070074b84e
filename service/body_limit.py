"""ASGI middleware: bodies over a byte limit get 413 before they are parsed or buffered whole, and a body must
arrive within a time limit (408), so a client that stalls mid-body cannot hold a connection and an admission slot.

An over-limit body is read and discarded up to `discard_bytes` before the 413 is sent, as nginx's lingering
close does: a client that writes its whole body before reading (Python's urllib) then gets the 413 instead of a
connection reset. The connection is closed after either error.
"""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.raw_error import count_error, send_error
from service.schemas import ErrorDetail

_CLOSE = [(b"connection", b"close")]


class BodyTooLargeError(Exception):
    """Raised inside receive() once the streamed body passes the limit."""


class BodyTimeoutError(Exception):
    """Raised inside receive() once the body has taken longer than the limit."""


class BodyLimitMiddleware:
    """Checks Content-Length up front, counts streamed (chunked) bodies as they arrive, bounds their time."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, timeout_s: float, discard_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.timeout_s = timeout_s
        self.discard_bytes = discard_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._discard(receive, int(declared))
            await self._too_large(scope, send)
            return
        deadline = time.monotonic() + self.timeout_s
        received = 0
        failure: Exception | None = None
        replied = False

        async def counting_receive() -> Message:
            nonlocal received, failure
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0.001))
            except TimeoutError:
                failure = BodyTimeoutError()
                raise failure from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    failure = BodyTooLargeError()
                    raise failure
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal replied
            # Frameworks turn an exception inside receive() into their own 400; once a limit is crossed the
            # client gets our 413/408 instead, whatever the app tries to send.
            if failure is not None:
                if not replied:
                    replied = True
                    await self._fail(scope, receive, send, failure)
                return
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except (BodyTooLargeError, BodyTimeoutError) as exc:
            if not replied:
                replied = True
                await self._fail(scope, receive, send, exc)

    async def _fail(self, scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
        if isinstance(exc, BodyTimeoutError):
            count_error(scope, "body_timeout")
            detail = ErrorDetail(field="body", message=f"not received within {self.timeout_s:g} s")
            await send_error(send, 408, "body_timeout", "request body too slow", [detail], _CLOSE)
            return
        await self._discard(receive, self.discard_bytes)
        await self._too_large(scope, send)

    async def _discard(self, receive: Receive, declared: int) -> None:
        """Read and drop the rest of the body (at most discard_bytes, within the body time limit)."""
        if declared > self.discard_bytes:
            return
        deadline = time.monotonic() + self.timeout_s
        left = self.discard_bytes
        while left > 0:
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0.001))
            except TimeoutError:
                return
            if message["type"] != "http.request":
                return
            left -= len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    async def _too_large(self, scope: Scope, send: Send) -> None:
        limit = self.max_body_bytes
        count_error(scope, "body_too_large")
        detail = ErrorDetail(field="body", message=f"request body larger than {limit} bytes", limit=limit)
        await send_error(send, 413, "body_too_large", "request body too large", [detail], _CLOSE)
