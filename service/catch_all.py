"""ASGI middleware: an unexpected exception becomes a 500 in the one error shape, logged without its message.

Starlette's own last-resort handler re-raises after answering, so the server logs the exception text, which can
hold request data (a pydantic `input_value`, a tokenizer's view of a profile). Here the log names the exception
type and where it was raised, never its message, and nothing is re-raised.
"""

from __future__ import annotations

import asyncio
import logging
import traceback

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.raw_error import count_error, send_error

log = logging.getLogger(__name__)


def describe(exc: BaseException) -> str:
    """Exception type and stack frames (file, line, function), no message: safe for any log level."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in reversed(frames[-6:]))
    return f"{type(exc).__module__}.{type(exc).__qualname__} at {where}"


class CatchAllMiddleware:
    """The outermost of the service's middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except asyncio.CancelledError:
            # The server cancels what is left when the shutdown timeout passes: a 503, not a 500 and a traceback.
            if not started:
                headers = [(b"connection", b"close"), (b"retry-after", b"1")]
                await send_error(send, 503, "shutting_down", "the server is shutting down; retry", (), headers)
        except Exception as exc:  # the last resort: answer and log safely
            log.error("unexpected error handling %s %s: %s", scope["method"], scope["path"], describe(exc))
            count_error(scope, "internal_error")
            if not started:
                await send_error(send, 500, "internal_error", "internal error")
