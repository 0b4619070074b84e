"""A load-test report: JSON for machines, Markdown in the paper's table shape, and its PNG plots.

Every percentile is printed beside its sample count; a P99 from fewer than 1,000 requests carries a `*`.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

from loadtest.latency_histogram import MIN_SAMPLES_FOR_P99
from loadtest.plots import plot_cdf, plot_sweep

DEFINITIONS = f"""\
- **TTFT** of a ranking request is the time until all k scores are back. `/rank` answers in one response, so
  TTFT = end-to-end latency. It is measured from the request's *scheduled* send time on an open-loop, seeded
  Poisson schedule, so client lag and any client queueing count (no coordinated omission).
- Percentiles come from an HdrHistogram (µs, 3 significant digits, nearest rank). `N` is the number of
  measured requests behind them; warm-up requests are excluded. `*` marks a P99 from fewer than
  {MIN_SAMPLES_FOR_P99:,} requests: fewer than ten requests lie beyond it, so read it as indicative.
- Throughput is successful members (requests), candidates and server-reported prompt tokens per second over
  the measured window (first scheduled send to last response). Goodput counts only requests within the SLO.
- **server engine P50** is the engine time the server reports (`timing_ms.engine`, SGLang `e2e_latency`);
  TTFT minus it is HTTP, queueing and request handling.
- **context tokens served** = the server's `usage.prompt_tokens` / k: one full prompt (member prefix + one
  candidate). It can fall short of the target when the server cuts history to its prefix token budget.
- **hot** = repeat members (same id, profile and history: the prompt prefix is in the server's cache);
  **cold** = a new member per request (only the instruction line is shared).
"""


class Report:
    """Runs and sweeps of one or more invocations, with the commands that produced them."""

    def __init__(self, title: str, commands: list[str] | None = None) -> None:
        self.title = title
        self.commands = list(commands or [])
        self.runs: list[dict[str, Any]] = []
        self.sweeps: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.meta: dict[str, Any] = {
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "client_host": f"{platform.node()} ({platform.machine()}, {platform.system()})",
        }

    @classmethod
    def merge(cls, paths: list[Path], title: str) -> Report:
        """One report from several JSON reports (e.g. a grid run and a sweep)."""
        report = cls(title)
        for path in paths:
            data = json.loads(Path(path).read_text())
            report.commands += data.get("commands", [])
            report.runs += data.get("runs", [])
            report.sweeps += data.get("sweeps", [])
            report.notes += [n for n in data.get("notes", []) if n not in report.notes]
            report.meta.update({k: v for k, v in data.get("meta", {}).items() if k not in report.meta})
        return report

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "commands": self.commands,
            "meta": self.meta,
            "runs": self.runs,
            "sweeps": self.sweeps,
            "notes": self.notes,
        }

    def write(self, out: Path) -> list[Path]:
        """`<out>.json`, `<out>.md` and `<out>-*.png`; returns the paths written."""
        out.parent.mkdir(parents=True, exist_ok=True)
        plots = self._plots(out)
        json_path = out.with_suffix(".json")
        json_path.write_text(json.dumps(self.to_json(), indent=1) + "\n")
        md_path = out.with_suffix(".md")
        md_path.write_text(self.to_markdown([p.name for p in plots]))
        return [json_path, md_path, *plots]

    def _plots(self, out: Path) -> list[Path]:
        paths = []
        if self.runs:
            curves = [(r["label"], r["latencies_ms"]) for r in self.runs if r.get("latencies_ms")]
            paths.append(plot_cdf(curves, out.parent / f"{out.name}-cdf.png", f"TTFT CDF — {self.title}"))
        for i, sweep in enumerate(self.sweeps):
            paths.append(plot_sweep(sweep, out.parent / f"{out.name}-sweep{i + 1}.png"))
        return paths

    def to_markdown(self, plot_names: list[str]) -> str:
        """The human report."""
        lines = [f"# {self.title}", "", "Produced with:", "", "```sh", *self.commands, "```", ""]
        lines += [f"- {k}: {v}" for k, v in self.meta.items()]
        lines += [f"- {note}" for note in self.notes]
        lines += ["", "## Results", "", *run_table(self.runs), ""]
        for i, sweep in enumerate(self.sweeps):
            lines += [f"## Sweep {i + 1}: {sweep.get('label', '')}", "", *sweep_table(sweep), ""]
        if plot_names:
            lines += ["## Plots", ""] + [f"![{name}]({name})" for name in plot_names] + [""]
        lines += ["## Definitions", "", DEFINITIONS]
        return "\n".join(lines)


def run_table(runs: list[dict[str, Any]]) -> list[str]:
    """One row per configuration: P50/P99 TTFT and throughput, as in the paper, plus what qualifies them."""
    head = (
        "| configuration | model | k | members | context tokens target / served | offered / sent /s | N "
        "| P50 TTFT ms | P99 TTFT ms | server engine P50 ms | members/s | candidates/s | prompt tok/s "
        "| goodput /s (SLO) | cached | errors |"
    )
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in runs:
        wl, tp, tok, ttft = r["workload"], r["throughput"], r["tokens"], r["ttft_ms"]
        members = f"hot ({wl['repeat_fraction']:.0%} repeat)" if wl["repeat_fraction"] > 0 else "cold (all new)"
        label = r["label"] + (" (partial)" if r.get("is_partial") else "")
        rows.append(
            f"| {label} | {r.get('model') or '?'} | {wl['k']} "
            f"| {members} | {wl['context_tokens']} / {_num(tok.get('context_per_prompt'), 0)} "
            f"| {r['schedule']['rate']:g} / {_num(tp['sent_per_s'], 2)} | {ttft['count']} "
            f"| {_num(ttft.get('p50'))} | {_p99(ttft)} | {_num((r.get('engine_ms') or {}).get('p50'))} "
            f"| {_num(tp['members_per_s'], 2)} | {_num(tp['candidates_per_s'], 1)} "
            f"| {_num(tp['prompt_tokens_per_s'], 0)} | {_num(tp['goodput_per_s'], 2)} (≤{tp['slo_ms']:g} ms) "
            f"| {_pct(tok['cached_fraction'])} | {_errors(r)} |"
        )
    return rows


def sweep_table(sweep: dict[str, Any]) -> list[str]:
    """One row per offered rate, and the highest rate that met the SLO."""
    key = f"p{sweep['slo_percentile']:g}"
    rows = [
        "| offered /s | sent /s | N | P50 TTFT ms | P90 TTFT ms | P99 TTFT ms | members/s | errors | meets SLO |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sweep["runs"]:
        t = r["ttft_ms"]
        meets = "yes" if r.get("meets_slo") else "no"
        rows.append(
            f"| {r['schedule']['rate']:g} | {_num(r['throughput']['sent_per_s'], 2)} | {t['count']} "
            f"| {_num(t.get('p50'))} | {_num(t.get('p90'))} | {_p99(t)} "
            f"| {_num(r['throughput']['members_per_s'], 2)} | {_errors(r)} | {meets} |"
        )
    best = sweep.get("best_rate")
    verdict = f"**{best:g} members/s**" if best is not None else "**none of the rates tried**"
    rows += [
        "",
        f"SLO: {key.upper()} TTFT ≤ {sweep['slo_ms']:g} ms, errors ≤ {sweep['max_error_fraction']:.0%}. "
        f"Highest offered rate meeting it: {verdict}.",
    ]
    return rows


def _num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _p99(ttft: dict[str, Any]) -> str:
    return _num(ttft.get("p99")) + ("*" if ttft.get("p99_is_indicative") else "")


def _errors(run: dict[str, Any]) -> str:
    errors = run.get("errors") or {}
    return ", ".join(f"{k}: {v}" for k, v in errors.items()) or "0"
