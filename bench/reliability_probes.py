"""Pieces of bench/reliability_cpu.py: the server process, an open-loop client, and the shutdown/idle probes.

Everything talks to a real `python -m slmrank serve` over sockets; nothing here imports the service.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
MARKER = "PII-7f3a9c"  # in every member and candidate text sent: must never appear in a log


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running `slmrank serve` and where its log goes."""

    proc: subprocess.Popen
    url: str
    log_path: Path

    def rss_mb(self) -> float:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


_STARTED: list[Server] = []


@atexit.register
def _stop_all() -> None:
    """No server outlives the bench, even when a phase fails."""
    for server in _STARTED:
        server.stop()


def start_server(model_dir: Path, log_path: Path, env: dict[str, str], ready_s: float = 180) -> Server:
    """Start the service on a free port and wait until /readyz is 200."""
    port = free_port()
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "SLMRANK_DEVICE": "cpu", "PYTHONPATH": str(REPO), **env}
    argv = [sys.executable, "-m", "slmrank", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--model", str(model_dir)]  # fmt: skip
    out = log_path.open("w")
    proc = subprocess.Popen(argv, cwd=REPO, env=full_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(proc, f"http://127.0.0.1:{port}", log_path)
    _STARTED.append(server)
    deadline = time.monotonic() + ready_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited:\n{log_path.read_text()[-2000:]}")
        try:
            if httpx.get(server.url + "/readyz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError("server not ready")


def rank_body(rng: random.Random, k: int) -> dict:
    """A /rank request with k candidates; every text carries MARKER."""
    genres = ["Drama", "Comedy", "Action", "Thriller", "Romance", "Sci-Fi", "Horror", "Animation"]
    member = {
        "id": f"u{rng.randrange(10**9)}",
        "profile": f"{MARKER} favourite genres: {', '.join(rng.sample(genres, 3))}",
        "history": [
            {
                "item": f"{MARKER} Movie {rng.randrange(10**6)} | {rng.choice(genres)}",
                "action": "rated 4.0",
                "timestamp": 1_500_000_000 + i,
            }
            for i in range(8)
        ],
    }
    candidates = [{"id": f"m{i}", "text": f"{MARKER} Film {rng.randrange(10**6)} | {rng.choice(genres)}"}
                  for i in range(k)]  # fmt: skip
    return {"member": member, "candidates": candidates}


@dataclass
class Outcome:
    """One request of an open-loop run."""

    sent_at: float
    latency_s: float
    status: int  # 0: no HTTP answer (connection refused, reset, client timeout)
    code: str = ""


@dataclass
class LoadResult:
    outcomes: list[Outcome] = field(default_factory=list)
    duration_s: float = 0.0
    max_rss_mb: float = 0.0

    def by_status(self) -> Counter:
        return Counter(o.status for o in self.outcomes)


def request_bytes(host: str, path: str, body: dict) -> bytes:
    """One HTTP/1.1 POST with `Connection: close`, built once and sent as is."""
    payload = json.dumps(body).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n")  # fmt: skip
    return head.encode() + payload


async def _one(host: str, port: int, raw: bytes, sent_at: float, timeout_s: float, out: list[Outcome]) -> None:
    """Send one prepared request on a fresh connection and read the answer to EOF (cheaper than an HTTP client:
    the load generator shares the cores with the server)."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(raw)
            data = await reader.read()
            writer.close()
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0
        code = ""
        if status >= 400:
            code = data.split(b'"code": "', 1)[-1].split(b'"', 1)[0].decode(errors="replace")[:40]
            code = code or data.split(b'"code":"', 1)[-1].split(b'"', 1)[0].decode(errors="replace")[:40]
        out.append(Outcome(sent_at, time.perf_counter() - started, status, code))
    except (OSError, TimeoutError, ValueError, IndexError) as exc:
        out.append(Outcome(sent_at, time.perf_counter() - started, 0, type(exc).__name__))


async def open_loop(
    server: Server,
    rate: float,
    duration_s: float,
    k: int,
    seed: int,
    timeout_s: float = 30.0,
    on_tick: Callable[[float], None] | None = None,
) -> LoadResult:
    """Send Poisson arrivals at `rate`/s for `duration_s` whatever the answers; wait for the stragglers."""
    rng = random.Random(seed)
    host, port = server.url.removeprefix("http://").split(":")
    raws = [request_bytes(host, "/rank", rank_body(rng, k)) for _ in range(256)]
    result = LoadResult()
    start = time.perf_counter()
    next_at, tasks, i, last_rss = 0.0, [], 0, 0.0
    while next_at < duration_s:
        now = time.perf_counter() - start
        if next_at > now:
            await asyncio.sleep(next_at - now)
        sent_at = time.perf_counter() - start
        tasks.append(asyncio.create_task(_one(host, int(port), raws[i % 256], sent_at, timeout_s, result.outcomes)))
        i += 1
        next_at += rng.expovariate(rate)
        if sent_at - last_rss >= 1.0:
            last_rss = sent_at
            result.max_rss_mb = max(result.max_rss_mb, server.rss_mb())
            if on_tick is not None:
                on_tick(sent_at)
    await asyncio.gather(*tasks)
    result.duration_s = time.perf_counter() - start
    return result


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def stalled_client(url: str) -> socket.socket:
    """A connection that sends headers promising 100 bytes of body, then one byte, then nothing."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.sendall(b"POST /rank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
    return sock


def readyz_until_503(url: str, started: float, limit_s: float = 5.0) -> float | None:
    """Seconds from `started` until /readyz answers 503 on a kept-alive connection (None: never)."""
    with httpx.Client(timeout=2) as client:
        while time.monotonic() - started < limit_s:
            try:
                if client.get(url + "/readyz").status_code == 503:
                    return time.monotonic() - started
            except httpx.HTTPError:
                return None
            time.sleep(0.005)
    return None


def open_idle(url: str, count: int) -> list[socket.socket]:
    """Up to `count` connections that never send a byte (stops early at the client's fd limit)."""
    host, port = url.removeprefix("http://").split(":")
    socks = []
    for _ in range(count):
        try:
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex((host, int(port)))
            socks.append(s)
        except OSError:
            break
    return socks
