"""The idle-connection, hostile-input and log-scan phases of bench/reliability_cpu.py."""

from __future__ import annotations

import argparse
import json
import random
import resource
import time
from pathlib import Path
from typing import Any

import httpx
from reliability_probes import MARKER, open_idle, rank_body, start_server


def idle_phase(args: argparse.Namespace, log_dir: Path) -> dict[str, Any]:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    want = min(args.idle, hard - 200)
    server = start_server(args.model, log_dir / "idle.log", {})
    log_before = server.log_path.stat().st_size
    socks = open_idle(server.url, want)
    time.sleep(3)
    t = time.perf_counter()
    try:
        health = httpx.get(server.url + "/healthz", timeout=10).status_code
    except httpx.HTTPError as exc:
        health = type(exc).__name__
    health_ms = (time.perf_counter() - t) * 1e3
    time.sleep(args.idle_hold_s)
    metrics = httpx.get(server.url + "/metrics", timeout=10).text
    closed = {
        line.split("reason=")[1].split("}")[0].strip('"'): float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("slmrank_connections_closed_total{")
    }
    log_growth = server.log_path.stat().st_size - log_before
    for s in socks:
        s.close()
    server.stop()
    return {
        "client_fd_limit": hard,
        "idle_opened": len(socks),
        "healthz": health,
        "healthz_ms": health_ms,
        "log_growth_bytes": log_growth,
        "hold_s": args.idle_hold_s,
        "server_closed": closed,
    }


def hostile_phase(args: argparse.Namespace, log_dir: Path) -> dict[str, Any]:
    """Every error path once, at log level debug, with the marker in the body."""
    server = start_server(
        args.model, log_dir / "hostile.log", {"SLMRANK_LOG_LEVEL": "debug", "SLMRANK_MAX_BODY_BYTES": "4096"}
    )

    body = json.dumps(rank_body(random.Random(3), 4))
    cases = [
        body.replace(MARKER, MARKER + "\\ud800", 1),
        body.replace('"m1"', '"m0"'),
        body.replace("rated 4.0", ""),
        body[:-5],
        body.replace('"candidates"', '"candidatez"'),
        json.dumps({"query": MARKER, "documents": [""]}),
        json.dumps({"query": MARKER, "documents": [MARKER * 2000]}),
        body.replace("1500000000", "NaN", 1),
        body + "x" * 5000,
    ]
    statuses = []
    with httpx.Client(timeout=30) as client:
        for raw in cases:
            path = "/v1/rerank" if '"query"' in raw else "/rank"
            statuses.append(
                client.post(
                    server.url + path,
                    content=raw.encode("utf-8", "surrogatepass"),
                    headers={"content-type": "application/json"},
                ).status_code
            )
    server.stop()
    return {"statuses": statuses}


def scan_logs(log_dir: Path) -> dict[str, int]:
    return {p.name: p.read_text(errors="replace").count(MARKER) for p in sorted(log_dir.glob("*.log"))}
