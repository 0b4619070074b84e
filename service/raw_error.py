"""The one error shape, sent straight over ASGI by middleware that answers before FastAPI runs."""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.types import Scope, Send

from service.schemas import ErrorDetail


def error_bytes(code: str, message: str, details: Sequence[ErrorDetail] = ()) -> bytes:
    """The JSON body of an error response."""
    items = [d.model_dump(exclude_none=True) for d in details]
    return json.dumps({"error": {"code": code, "message": message, "details": items}}).encode()


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    details: Sequence[ErrorDetail] = (),
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """Send a complete error response in the one error shape."""
    body = error_bytes(code, message, details)
    all_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


def count_error(scope: Scope, code: str) -> None:
    """Count an error answered outside FastAPI in the app's metrics (when the app has them)."""
    app = scope.get("app")
    service = getattr(getattr(app, "state", None), "service", None)
    if service is not None:
        service.metrics.errors.labels(reason=code).inc()
