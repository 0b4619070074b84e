"""Reliability of the real `slmrank serve` on CPU: overload, hostile input, SIGTERM, idle connections, log privacy.

Each phase starts the service as a subprocess on models/default and talks to it over sockets:

1. capacity: closed loop (concurrency --clients) for --capacity-s; unloaded P99 from one client at a time;
2. overload: open loop at --overload-factor x capacity for --overload-s: goodput, shed-answer and accepted P99,
   status counts, peak RSS;
3. schemathesis: every check but max_response_time, positive and negative data, >= --cases cases in all;
4. SIGTERM at half capacity with a stalled client: failures among requests sent before the signal, time until
   /readyz says 503, time until the process exits against its configured bound;
5. idle connections: as many silent connections as the client's open-files limit allows (up to --idle), then
   /healthz, and the log's growth;
6. member text (a marker in every profile, history item and candidate) in any log at any level: none.

Writes bench/results/reliability-cpu.md (and .json). The machine is shared: client, server and other jobs run on
the same 2 cores, so figures are noisy and conservative.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from reliability_probes import (
    REPO,
    open_loop,
    percentile,
    rank_body,
    readyz_until_503,
    stalled_client,
    start_server,
)
from reliability_schema import run_schemathesis
from reliability_side import hostile_phase, idle_phase, scan_logs


async def capacity(url_server: Any, args: argparse.Namespace) -> dict[str, float]:
    """Unloaded P50/P99 (one request at a time) and throughput with `clients` concurrent closed-loop clients."""
    import random

    rng = random.Random(1)
    bodies = [rank_body(rng, args.k) for _ in range(64)]
    async with httpx.AsyncClient(timeout=30) as client:
        lat = []
        end = time.perf_counter() + args.unloaded_s
        i = 0
        while time.perf_counter() < end:
            t = time.perf_counter()
            r = await client.post(url_server.url + "/rank", json=bodies[i % 64])
            lat.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
            i += 1
        done = 0

        async def worker(j: int) -> None:
            nonlocal done
            stop = start + args.capacity_s
            n = j
            while time.perf_counter() < stop:
                r = await client.post(url_server.url + "/rank", json=bodies[n % 64])
                done += r.status_code == 200
                n += args.clients

        start = time.perf_counter()
        await asyncio.gather(*(worker(j) for j in range(args.clients)))
        elapsed = time.perf_counter() - start
    return {
        "unloaded_p50_ms": percentile(lat, 0.5) * 1e3,
        "unloaded_p99_ms": percentile(lat, 0.99) * 1e3,
        "unloaded_n": len(lat),
        "capacity_rps": done / elapsed,
    }


def server_latency(metrics: str) -> dict[str, float]:
    """P50/P99 of answered requests as the server measured them (from its histogram buckets)."""
    buckets = []
    for line in metrics.splitlines():
        if line.startswith("slmrank_request_latency_seconds_bucket{") and 'status="ok"' in line:
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0.0

    def quantile(q: float) -> float:
        for le, count in buckets:
            if count >= q * total:
                return le * 1e3
        return float("nan")

    return {"n": total, "p50_le_ms": quantile(0.5), "p99_le_ms": quantile(0.99)}


def overload_summary(result: Any, capacity_rps: float, unloaded_p99_ms: float) -> dict[str, Any]:
    ok = [o.latency_s for o in result.outcomes if o.status == 200]
    shed = [o.latency_s for o in result.outcomes if o.status == 503]
    statuses = Counter(f"{o.status} {o.code}".strip() for o in result.outcomes)
    goodput = len(ok) / result.duration_s
    return {
        "sent": len(result.outcomes),
        "duration_s": result.duration_s,
        "goodput_rps": goodput,
        "goodput_share_of_capacity": goodput / capacity_rps,
        "accepted_p50_ms": percentile(ok, 0.5) * 1e3,
        "accepted_p99_ms": percentile(ok, 0.99) * 1e3,
        "accepted_p99_over_unloaded": percentile(ok, 0.99) * 1e3 / unloaded_p99_ms,
        "shed_n": len(shed),
        "shed_p50_ms": percentile(shed, 0.5) * 1e3,
        "shed_p99_ms": percentile(shed, 0.99) * 1e3,
        "other_5xx": sum(1 for o in result.outcomes if o.status >= 500 and o.status != 503),
        "no_answer": sum(1 for o in result.outcomes if o.status == 0),
        "statuses": dict(statuses.most_common()),
        "max_rss_mb": result.max_rss_mb,
    }


async def overload_phase(args: argparse.Namespace, cap: dict[str, Any], log_dir: Path) -> dict[str, Any]:
    server = start_server(args.model, log_dir / "overload.log", {"SLMRANK_MAX_IN_FLIGHT": str(args.max_in_flight)})
    rate = args.overload_factor * cap["capacity_rps"]
    result = await open_loop(server, rate, args.overload_s, args.k, 5)
    result.max_rss_mb = max(result.max_rss_mb, server.rss_mb())
    server_side = server_latency(httpx.get(server.url + "/metrics", timeout=30).text)
    server.stop()
    summary = overload_summary(result, cap["capacity_rps"], cap["unloaded_p99_ms"])
    return {**summary, "offered_rps": rate, "server_side": server_side}


async def sigterm_phase(args: argparse.Namespace, rate: float, log_dir: Path) -> dict[str, Any]:
    # The default admission cap: at half capacity nothing should be shed, so every request sent before the
    # signal should be served.
    env = {
        "SLMRANK_SHUTDOWN_DRAIN_S": str(args.drain_s),
        "SLMRANK_SHUTDOWN_TIMEOUT_S": str(args.shutdown_timeout_s),
        "SLMRANK_BODY_TIMEOUT_S": "120",
    }
    server = start_server(args.model, log_dir / "sigterm.log", env)
    marks: dict[str, float] = {}

    def tick(t: float) -> None:
        if t >= args.sigterm_after_s and "sent" not in marks:
            _STALLED.append(stalled_client(server.url))  # held open until the process exits
            marks["sent"] = t
            marks["mono"] = time.monotonic()
            os.killpg(server.proc.pid, signal.SIGTERM)

    load = asyncio.create_task(open_loop(server, rate, args.sigterm_after_s + 6, args.k, 7, on_tick=tick))
    while "mono" not in marks:
        await asyncio.sleep(0.01)
    ready_503_s = await asyncio.to_thread(readyz_until_503, server.url, marks["mono"])
    exit_s = None
    for _ in range(int((args.drain_s + args.shutdown_timeout_s + 30) / 0.05)):
        if server.proc.poll() is not None:
            exit_s = time.monotonic() - marks["mono"]
            break
        await asyncio.sleep(0.05)
    result = await load
    before = [o for o in result.outcomes if o.sent_at < marks["sent"]]
    shed_before = [o for o in before if o.status == 503 and o.code == "overloaded"]
    failed_before = [o for o in before if o.status != 200 and o not in shed_before]
    server.stop()
    return {
        "rate_rps": rate,
        "sent_before_sigterm": len(before),
        "shed_before_sigterm": len(shed_before),
        "failed_before_sigterm": len(failed_before),
        "failed_before_statuses": dict(Counter(f"{o.status} {o.code}".strip() for o in failed_before)),
        "readyz_503_after_ms": None if ready_503_s is None else ready_503_s * 1e3,
        "exit_after_s": exit_s,
        "graceful_s": args.drain_s + args.shutdown_timeout_s,
        "bound_s": args.drain_s + args.shutdown_timeout_s + 3.0,  # + the watchdog's margin (draining_server.py)
        "after_sigterm_statuses": dict(
            Counter(f"{o.status} {o.code}".strip() for o in result.outcomes if o.sent_at >= marks["sent"])
        ),
    }


_STALLED: list[Any] = []


async def run(args: argparse.Namespace) -> dict[str, Any]:
    log_dir = REPO / "runs" / "reliability"
    log_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    previous = json.loads(args.reuse_from.read_text()) if args.reuse_from else {}
    reused = set(args.reuse.split(",")) if args.reuse else set()
    if "capacity" in reused:
        out["capacity"] = cap = previous["capacity"]
    else:
        server = start_server(args.model, log_dir / "capacity.log", {"SLMRANK_MAX_IN_FLIGHT": "100000"})
        out["capacity"] = cap = await capacity(server, args)
        server.stop()
    print("capacity", cap, flush=True)
    if args.max_in_flight <= 0:  # Little's law: admit what capacity serves within 2x the unloaded P50
        args.max_in_flight = max(2, round(cap["capacity_rps"] * 2 * cap["unloaded_p50_ms"] / 1e3))
    out["max_in_flight"] = args.max_in_flight
    if "overload" in reused:
        out["overload"], out["max_in_flight"] = previous["overload"], previous["max_in_flight"]
    else:
        out["overload"] = await overload_phase(args, cap, log_dir)
        if "overload" in previous and "capacity" in reused:  # same capacity probe: keep the other cap's run
            out["overload_previous"] = {**previous["overload"], "max_in_flight": previous["max_in_flight"]}
    print("overload", out["overload"], flush=True)
    if "schemathesis" in reused:
        out["schemathesis"] = previous["schemathesis"]
    else:
        server = start_server(args.model, log_dir / "schemathesis.log", {"SLMRANK_MAX_BODY_BYTES": "1000000"})
        out["schemathesis"] = await asyncio.to_thread(run_schemathesis, server.url, args.cases)
        server.stop()
    print("schemathesis", out["schemathesis"], flush=True)
    if "sigterm" in reused:
        out["sigterm"] = previous["sigterm"]
    else:
        out["sigterm"] = await sigterm_phase(args, 0.5 * cap["capacity_rps"], log_dir)
    print("sigterm", out["sigterm"], flush=True)
    out["idle"] = previous["idle"] if "idle" in reused else idle_phase(args, log_dir)
    print("idle", out["idle"], flush=True)
    out["hostile"] = hostile_phase(args, log_dir)
    out["reused"] = sorted(reused)
    out["log_marker_hits"] = scan_logs(log_dir)
    return out


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=REPO / "models" / "default")
    p.add_argument("--k", type=int, default=16, help="candidates per request")
    p.add_argument("--clients", type=int, default=8, help="closed-loop clients for the capacity probe")
    p.add_argument("--unloaded-s", type=float, default=10)
    p.add_argument("--capacity-s", type=float, default=15)
    p.add_argument("--overload-factor", type=float, default=3.0)
    p.add_argument("--overload-s", type=float, default=60)
    p.add_argument("--max-in-flight", type=int, default=0, help="0: capacity x 2 x unloaded P50 (Little's law)")
    p.add_argument("--cases", type=int, default=10_000, help="schemathesis cases in all")
    p.add_argument("--sigterm-after-s", type=float, default=8)
    p.add_argument("--drain-s", type=float, default=2)
    p.add_argument("--shutdown-timeout-s", type=float, default=5)
    p.add_argument("--idle", type=int, default=20_000)
    p.add_argument("--idle-hold-s", type=float, default=20)
    p.add_argument("--name", default="reliability-cpu")
    p.add_argument("--reuse-from", type=Path, help="a previous results JSON to take phases from")
    phases = "capacity,overload,schemathesis,sigterm,idle"
    p.add_argument("--reuse", default="", help=f"comma-separated phases to take from it: {phases}")
    return p.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    results = asyncio.run(run(arguments))
    results["machine"] = f"{platform.machine()} {platform.system()}, {os.cpu_count()} cores (shared)"
    from reliability_report import write_report

    write_report(results, REPO / "bench" / "results" / arguments.name)
