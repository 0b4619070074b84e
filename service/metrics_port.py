"""ASGI middleware: with SLMRANK_METRICS_PORT set, /metrics is served on that port only, and nothing else is."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from service.raw_error import send_error

PROBES = frozenset({"/healthz", "/readyz"})


def is_metrics_port(scope: Scope, metrics_port: int) -> bool:
    server = scope.get("server")
    return bool(metrics_port) and server is not None and server[1] == metrics_port


class MetricsPortMiddleware:
    """404 for /metrics on the API port and for anything but /metrics and probes on the metrics port."""

    def __init__(self, app: ASGIApp, metrics_port: int) -> None:
        self.app = app
        self.metrics_port = metrics_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.metrics_port:
            await self.app(scope, receive, send)
            return
        on_metrics_port = is_metrics_port(scope, self.metrics_port)
        path = scope["path"]
        allowed = path in PROBES or (path == "/metrics") == on_metrics_port
        if allowed:
            await self.app(scope, receive, send)
            return
        await send_error(send, 404, "not_found", "Not Found")
