"""ASGI middleware: when API keys are set, every route but the health probes (and the separate metrics port, when
configured) needs `Authorization: Bearer <key>`.

It runs before the body is read or parsed, so an unauthenticated client costs no parsing and always gets 401.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from service.metrics_port import is_metrics_port
from service.raw_error import count_error, send_error

OPEN_PATHS = frozenset({"/healthz", "/readyz"})


def bearer_token(scope: Scope) -> bytes | None:
    """The raw token of an `Authorization: Bearer …` header, or None."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            return token.strip() if scheme.lower() == b"bearer" else None
    return None


def is_valid_key(token: bytes | None, keys: frozenset[bytes]) -> bool:
    """Constant-time check against every key (bytes: any header byte compares, nothing raises)."""
    if token is None:
        return False
    # compare_digest on every key: the time taken does not reveal how much of a key matched.
    return any([hmac.compare_digest(token, k) for k in keys])


class ApiKeyMiddleware:
    """401 `unauthorized` for any request outside OPEN_PATHS without a configured key."""

    def __init__(self, app: ASGIApp, keys: frozenset[str], metrics_port: int = 0) -> None:
        self.app = app
        self.keys = frozenset(k.encode() for k in keys)
        self.metrics_port = metrics_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The separate metrics port is guarded by the network (k8s/ NetworkPolicy), not by keys.
        is_open = scope.get("path") in OPEN_PATHS or is_metrics_port(scope, self.metrics_port)
        if scope["type"] != "http" or not self.keys or is_open:
            await self.app(scope, receive, send)
            return
        if is_valid_key(bearer_token(scope), self.keys):
            await self.app(scope, receive, send)
            return
        count_error(scope, "unauthorized")
        headers = [(b"www-authenticate", b"Bearer")]
        await send_error(send, 401, "unauthorized", "missing or invalid API key", headers=headers)
