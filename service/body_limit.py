"""ASGI middleware that refuses bodies over a byte limit (413) before they are parsed or buffered whole."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _error_body(limit: int) -> bytes:
    detail = {"field": "body", "message": f"request body larger than {limit} bytes", "limit": limit}
    error = {"code": "body_too_large", "message": "request body too large", "details": [detail]}
    return json.dumps({"error": error}).encode()


class BodyTooLargeError(Exception):
    """Raised inside receive() once the streamed body passes the limit."""


class BodyLimitMiddleware:
    """Checks Content-Length up front and counts streamed (chunked) bodies as they arrive."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._reject(send)
            return
        received = 0
        exceeded = False
        replied = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    exceeded = True
                    raise BodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal replied
            # Frameworks turn an exception inside receive() into their own 400; once the limit is crossed the
            # client gets our 413 instead, whatever the app tries to send.
            if exceeded:
                if not replied:
                    replied = True
                    await self._reject(send)
                return
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except BodyTooLargeError:
            if not replied:
                replied = True
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = _error_body(self.max_body_bytes)
        headers: list[Any] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
