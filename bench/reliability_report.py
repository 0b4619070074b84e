"""Markdown and JSON for bench/reliability_cpu.py, with the issue's "before" figures beside the measured ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Measured before the hardening (issue 16), same model and machine class, k=16.
BEFORE = {
    "capacity": "about 83 req/s; unloaded P99 22.6 ms",
    "overload": "98 of 15,000 succeeded (1.4/s, 2% of capacity); 2,507 got 503 after a P50 of 7.8 s; 12,272 got 504"
    " after ~11 s; 11,775 'Future exception was never retrieved' ERROR logs",
    "schemathesis": "800 server errors (500) in 20,629 cases",
    "sigterm": "/readyz went from 200 to connection refused (never 503); 34 of 155 requests on kept-alive"
    " connections failed; exit waited as long as the stalled client (23 s, unbounded)",
    "idle": "~20k silent connections made /healthz unreachable; 158 MB of EMFILE tracebacks in 20 s",
    "logs": "a rerank document's text appeared in an ERROR log (pydantic input_value)",
}


def _f(x: Any, digits: int = 1) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def _capacity(cap: dict[str, Any]) -> str:
    p50, p99 = _f(cap["unloaded_p50_ms"]), _f(cap["unloaded_p99_ms"])
    return f"{_f(cap['capacity_rps'])} req/s; unloaded P50 {p50} ms, P99 {p99} ms"


def _overload(ov: dict[str, Any]) -> str:
    return (
        f"{ov['sent']:,} sent; goodput {_f(ov['goodput_rps'])} req/s = {ov['goodput_share_of_capacity']:.0%} of"
        f" capacity; {ov['shed_n']:,} shed, P50 {_f(ov['shed_p50_ms'])} ms, P99 {_f(ov['shed_p99_ms'])} ms;"
        f" accepted P50 {_f(ov['accepted_p50_ms'])} ms, P99 {_f(ov['accepted_p99_ms'])} ms"
        f" ({ov['accepted_p99_over_unloaded']:.1f}x unloaded); other 5xx {ov['other_5xx']};"
        f" no answer {ov['no_answer']}; peak RSS {_f(ov['max_rss_mb'], 0)} MB; the server's own histogram:"
        f" P50 <= {_f(ov['server_side']['p50_le_ms'], 0)} ms, P99 <= {_f(ov['server_side']['p99_le_ms'], 0)} ms"
    )


def _schemathesis(st: dict[str, Any]) -> str:
    found = json.dumps(st["violations"]) if st["violations"] else ""
    return f"{st['cases']:,} cases; 5xx {st['server_errors_5xx']}; violations {sum(st['violations'].values())} {found}"


def _sigterm(sg: dict[str, Any]) -> str:
    return (
        f"{sg['failed_before_sigterm']} failed of {sg['sent_before_sigterm'] - sg.get('shed_before_sigterm', 0):,}"
        f" admitted before it ({sg.get('shed_before_sigterm', 0)} more shed at admission); /readyz 503 after"
        f" {_f(sg['readyz_503_after_ms'])} ms; exit after {_f(sg['exit_after_s'])} s (drain + timeout"
        f" {_f(sg['graceful_s'])} s; hard bound with the watchdog {_f(sg['bound_s'])} s)"
    )


def _idle(idle: dict[str, Any]) -> str:
    return (
        f"/healthz {idle['healthz']} in {_f(idle['healthz_ms'])} ms; log grew {idle['log_growth_bytes']:,} bytes"
        f" in {_f(idle['hold_s'], 0)} s; server closed {json.dumps(idle['server_closed'])}"
    )


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    ov, sg, idle = r["overload"], r["sigterm"], r["idle"]
    hits = sum(r["log_marker_hits"].values())
    overload_test = (
        f"open loop at {_f(ov['offered_rps'])} req/s ({r['args']['overload_factor']}x capacity),"
        f" {_f(ov['duration_s'], 0)} s, SLMRANK_MAX_IN_FLIGHT={r['max_in_flight']}"
    )
    overload_goal = "goodput >= 80% of capacity; shed P99 <= 10 ms; accepted P99 <= 2x unloaded; only 503; RSS bounded"
    logs = (
        f"{hits} occurrences of the marker in {len(r['log_marker_hits'])} server logs"
        f" (hostile inputs at debug level answered {r['hostile']['statuses']})"
    )
    table = [
        ("capacity (k=16, closed loop)", "-", BEFORE["capacity"], _capacity(r["capacity"])),
        (overload_test, overload_goal, BEFORE["overload"], _overload(ov)),
        (
            "schemathesis, every check but max_response_time",
            ">= 10,000 cases; 0 5xx; 0 violations",
            BEFORE["schemathesis"],
            _schemathesis(r["schemathesis"]),
        ),
        (
            f"SIGTERM at {_f(sg['rate_rps'])} req/s (half capacity), a stalled client",
            "0 failed among those sent before SIGTERM; /readyz 503 within 100 ms; exit <= bound",
            BEFORE["sigterm"],
            _sigterm(sg),
        ),
        (
            f"{idle['idle_opened']:,} idle connections (client open-files limit {idle['client_fd_limit']:,})",
            "/healthz answers; no log flood",
            BEFORE["idle"],
            _idle(idle),
        ),
        ("member text in logs (every level, every error path)", "none", BEFORE["logs"], logs),
    ]
    if "overload_previous" in r:
        prev = r["overload_previous"]
        test = f"the same, previous run with SLMRANK_MAX_IN_FLIGHT={prev['max_in_flight']}"
        table.insert(2, (test, overload_goal, "", _overload(prev)))
    return table


def write_report(r: dict[str, Any], stem: Path) -> None:
    stem.with_suffix(".json").write_text(json.dumps(r, indent=2, default=str) + "\n")
    lines = [
        "# slmrank reliability on CPU (models/default, embedded engine)",
        "",
        "Produced with `python bench/reliability_cpu.py` (each phase starts `python -m slmrank serve` on a free port;",
        "server logs under runs/reliability/). Machine: " + r.get("machine", "?") + "; the client, the server and",
        "other helpers' jobs shared the 2 cores, so the figures are noisy and conservative. 'Before' figures are the",
        "ones measured before the hardening (issue 16).",
        "",
        "| test | goal | before | after (measured) |",
        "|---|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows(r)]
    ov = r["overload"]
    lines += ["", "Overload status counts: `" + json.dumps(ov["statuses"]) + "`", ""]
    if r["schemathesis"]["violation_examples"]:
        lines += ["Schemathesis violations (first of each kind):", ""]
        lines += [f"- `{k}`: {v}" for k, v in r["schemathesis"]["violation_examples"].items()]
        lines.append("")
    lines += ["SIGTERM statuses after the signal: `" + json.dumps(r["sigterm"]["after_sigterm_statuses"]) + "`", ""]
    if r.get("reused"):
        lines += [f"Phases taken from the previous run's JSON (not re-measured): {', '.join(r['reused'])}.", ""]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
