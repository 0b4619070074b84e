"""The real server as a subprocess for tests: `python -m slmrank serve` on a free 127.0.0.1 port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(
    model_dir: Path, log_path: Path, env: dict[str, str] | None = None, ready_s: float = 120
) -> Iterator[str]:
    """Start the service, wait until /readyz is 200, yield its URL; stop it (process group) on exit."""
    with live_server_process(model_dir, log_path, env, ready_s) as (url, _proc):
        yield url


@contextmanager
def live_server_process(
    model_dir: Path, log_path: Path, env: dict[str, str] | None = None, ready_s: float = 120
) -> Iterator[tuple[str, subprocess.Popen]]:
    """live_server, also yielding the process (for signal tests); stopped on exit if still running."""
    port = free_port()
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "SLMRANK_DEVICE": "cpu", **(env or {})}
    argv = [sys.executable, "-m", "slmrank", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--model", str(model_dir), "--log-level", "warning"]  # fmt: skip
    with log_path.open("w") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, url, log_path, ready_s)
        yield url, proc
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _wait_ready(proc: subprocess.Popen, url: str, log_path: Path, ready_s: float) -> None:
    deadline = time.monotonic() + ready_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server not ready in {ready_s:.0f} s:\n{log_path.read_text()[-3000:]}")
