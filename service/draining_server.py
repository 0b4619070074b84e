"""`slmrank serve`'s uvicorn server: bounded graceful shutdown, connection hygiene, optional metrics port.

On SIGTERM /readyz answers 503 at once and every response carries `Connection: close` for `shutdown_drain_s`
(load balancers take the pod out of rotation meanwhile, and kept-alive clients reconnect elsewhere); then the
listeners close and in-flight requests get `shutdown_timeout_s` to finish before they are cancelled. A watchdog
ends the process if it is still alive HARD_EXIT_MARGIN_S after that. A second signal skips the drain.
"""

from __future__ import annotations

import functools
import logging
import os
import resource
import socket
import sys
import threading
import time
from types import FrameType

import uvicorn
from fastapi import FastAPI

from service.connection_guard import ConnectionGuard, GuardedH11Protocol
from service.settings import Settings
from service.state import ServiceState

log = logging.getLogger(__name__)

FD_RESERVE = 128  # descriptors kept for the model files, engine sockets and logs, beyond client connections
HARD_EXIT_MARGIN_S = 3.0  # after drain + timeout: time to unload the model before the watchdog ends the process


class DrainingServer(uvicorn.Server):
    """uvicorn.Server whose first SIGTERM/SIGINT starts a drain instead of closing the listeners."""

    def __init__(self, config: uvicorn.Config, state: ServiceState) -> None:
        super().__init__(config)
        self.state = state
        self.drain_until: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.drain_until is not None or self.state.settings.shutdown_drain_s == 0:
            super().handle_exit(sig, frame)
            return
        self.state.is_draining = True
        settings = self.state.settings
        self.drain_until = time.monotonic() + settings.shutdown_drain_s
        # The bound holds even if unloading the model or a stuck thread would keep the process alive.
        bound_s = settings.shutdown_drain_s + settings.shutdown_timeout_s + HARD_EXIT_MARGIN_S
        watchdog = threading.Timer(bound_s, _hard_exit, args=(bound_s,))
        watchdog.daemon = True  # a normal exit does not wait for it
        watchdog.start()

    async def on_tick(self, counter: int) -> bool:
        if self.drain_until is not None and time.monotonic() >= self.drain_until:
            self.should_exit = True
        return await super().on_tick(counter)


def _hard_exit(bound_s: float) -> None:
    log.warning("shutdown exceeded %.1f s: exiting now", bound_s)
    logging.shutdown()
    os._exit(1)


def raise_fd_limit() -> int:
    """Raise the soft open-files limit to the hard one; return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def listen(host: str, port: int) -> socket.socket:
    """A bound TCP socket (asyncio starts listening on it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY on accepted sockets only when it does, and without it h11's
    # separate header and body writes wait out the client's delayed ACK (~40 ms per response).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def run_server(app: FastAPI, settings: Settings) -> None:
    """Serve `app` until signalled, on settings.port (and settings.metrics_port when set)."""
    state: ServiceState = app.state.service
    fd_limit = raise_fd_limit()
    max_connections = min(settings.max_connections, max(fd_limit - FD_RESERVE, 16))
    if max_connections < settings.max_connections:
        log.warning("open-files limit %d: serving at most %d connections", fd_limit, max_connections)
    guard = ConnectionGuard(max_connections, settings.header_timeout_s, state.metrics)
    config = uvicorn.Config(
        app,
        http=functools.partial(GuardedH11Protocol, guard=guard),  # type: ignore[arg-type]
        log_level=settings.log_level,
        timeout_keep_alive=settings.keep_alive_s,
        timeout_graceful_shutdown=settings.shutdown_timeout_s,  # type: ignore[arg-type]
        backlog=min(2048, max_connections),
        lifespan="on",
    )
    sockets = [listen(settings.host, settings.port)]
    if settings.metrics_port:
        sockets.append(listen(settings.host, settings.metrics_port))
    DrainingServer(config, state).run(sockets=sockets)
    # The app is shut down and the engine closed: skip interpreter finalization, which takes seconds with torch
    # and tokenizer threads loaded and would push the exit past the shutdown bound.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
