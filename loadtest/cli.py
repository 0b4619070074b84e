"""`slmrank loadtest run|sweep|report` (also `python -m loadtest ...`): open-loop load tests over HTTP."""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

DESCRIPTION = """\
Open-loop load tests of the slmrank gateway (POST /rank) or of an engine directly (SGLang /generate, vLLM
/v1/completions), with ranking requests drawn from MovieLens. Requests go out on a precomputed, seeded Poisson
(or gamma) schedule whether or not earlier ones have finished, and latency counts from the scheduled send, so
a slow server cannot hide its queue (no coordinated omission). Reports: <out>.json, <out>.md (P50/P99 TTFT and
throughput per configuration, sample counts beside every percentile) and PNG plots. Ctrl-C stops sending and
still writes the partial report."""

TARGETS = ("gateway", "sglang-generate", "vllm-completions")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `loadtest` with its `run`, `sweep` and `report` subcommands."""
    parser = subparsers.add_parser(
        "loadtest",
        help="open-loop load tests: P50/P99 TTFT and throughput",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="loadtest_command", metavar="SUBCOMMAND", required=True)
    run = sub.add_parser(
        "run",
        help="one run per (k, repeat fraction, context) at a fixed offered rate",
        description="Run every combination of --k, --repeat-fraction and --context-tokens at one "
        "offered rate, one after another, and write one report.",
    )
    _common(run, is_grid=True)
    run.add_argument("--rate", type=float, default=1.0, help="offered load in members (requests) per second")
    run.set_defaults(handler=_run_handler)
    sweep = sub.add_parser(
        "sweep",
        help="rising offered rates to find the highest one meeting a P99 SLO",
        description="Run one workload at each of --rates (ascending); stop after the first rate "
        "that misses the SLO, optionally bisect, and plot P50/P90/P99 against offered load.",
    )
    _common(sweep, is_grid=False)
    sweep.add_argument("--rates", type=_floats, required=True, help="comma-separated offered rates, e.g. 0.5,1,2,4")
    sweep.add_argument("--slo-percentile", type=float, default=99.0, help="percentile the SLO applies to")
    sweep.add_argument("--max-error-fraction", type=float, default=0.01, help="errors allowed at a passing rate")
    sweep.add_argument("--refine", type=int, default=0, help="bisection steps between last pass and first fail")
    sweep.add_argument("--no-stop-on-fail", action="store_true", help="run every rate even after one fails")
    sweep.set_defaults(handler=_sweep_handler)
    report = sub.add_parser(
        "report",
        help="merge JSON reports into one Markdown report with plots",
        description="Merge <name>.json files written by run/sweep into one report.",
    )
    report.add_argument("inputs", nargs="+", type=Path, help="JSON reports to merge")
    report.add_argument("--out", type=Path, required=True, help="output path without suffix")
    report.add_argument("--title", default="slmrank load test", help="report title")
    report.add_argument("--note", action="append", default=[], help="a line for the report (repeatable)")
    report.set_defaults(handler=_report_handler)


def _common(p: argparse.ArgumentParser, is_grid: bool) -> None:
    """Options shared by run and sweep. In `run`, --k/--repeat-fraction/--context-tokens take lists."""
    many = _ints if is_grid else int
    p.add_argument("--url", default="http://127.0.0.1:8000", help="base URL of the target")
    p.add_argument("--target", choices=TARGETS, default="gateway", help="what to talk to (default: gateway)")
    p.add_argument("--api-key", default=None, help="bearer token for the gateway, if it requires one")
    p.add_argument(
        "--model-name",
        default=None,
        help="model name for vLLM; for the gateway, the served model every request names (its card gives the task "
        "texts; default: none named, the gateway's variant policy picks, and the first model's card is read)",
    )
    p.add_argument(
        "--model",
        default=None,
        help="checkpoint directory whose card (slmrank.json) gives the task texts; "
        "default for --target gateway: the card from the gateway's GET /v1/models",
    )
    p.add_argument(
        "--k",
        type=many,
        default=[8] if is_grid else 8,
        help="candidates per member" + (" (comma-separated list)" if is_grid else ""),
    )
    p.add_argument(
        "--repeat-fraction",
        type=_floats if is_grid else float,
        default=[0.0] if is_grid else 0.0,
        help="probability a request reuses an earlier member (hot prefix); 0 = all cold",
    )
    p.add_argument(
        "--context-tokens",
        type=many,
        default=[1024] if is_grid else 1024,
        help="target prompt length in tokens (history lengthened or cut to reach it)",
    )
    p.add_argument("--num-requests", type=int, default=200, help="measured requests per run")
    p.add_argument("--duration-s", type=float, default=None, help="instead of --num-requests: rate x duration")
    p.add_argument("--warmup", type=int, default=5, help="requests sent first and left out of the results")
    p.add_argument("--arrival", choices=("poisson", "gamma", "constant"), default="poisson")
    p.add_argument(
        "--no-exact-rate",
        action="store_true",
        help="do not scale the drawn gaps to average exactly 1/rate (pure, noisier Poisson)",
    )
    p.add_argument("--burstiness", type=float, default=1.0, help="gamma shape (1 = Poisson, < 1 burstier)")
    p.add_argument(
        "--max-concurrency",
        type=int,
        default=None,
        help="cap on requests in flight (off by default: an open loop); waits count as queue time",
    )
    p.add_argument("--timeout-s", type=float, default=120.0, help="per-request timeout")
    p.add_argument("--slo-ms", type=float, default=1000.0, help="TTFT SLO for goodput (and for sweep)")
    p.add_argument("--task", default=None, help="a task of the model's card (default: the card's first task)")
    p.add_argument(
        "--chars-per-token",
        type=float,
        default=None,
        help="skip the calibration probe and assume this many characters per token",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the schedule, members and candidates")
    p.add_argument(
        "--namespace",
        default=None,
        help="member-id prefix (default: random, so cold members are new to a long-running server)",
    )
    p.add_argument("--data-dir", type=Path, default=Path("data/movielens-latest-small"))
    p.add_argument("--wait-ready-s", type=float, default=0.0, help="poll readiness this long before starting")
    p.add_argument("--out", type=Path, default=Path("loadtest-report"), help="output path without suffix")
    p.add_argument("--title", default="slmrank load test", help="report title")
    p.add_argument(
        "--note",
        action="append",
        default=[],
        help="a line for the report, e.g. how the server was started (repeatable)",
    )
    p.add_argument("--no-progress", action="store_true", help="no live progress line")


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def command_line() -> str:
    """How this process was invoked (`slmrank ...`, `python -m slmrank ...`, `python -m loadtest ...`)."""
    program = Path(sys.argv[0])
    if program.name == "__main__.py":
        return shlex.join(["python", "-m", program.parent.name, *sys.argv[1:]])
    return shlex.join([program.name, *sys.argv[1:]])


def _run_handler(args: argparse.Namespace) -> int:
    from loadtest.jobs import run_grid

    return _guarded(lambda: _finish(asyncio.run(run_grid(args)), args))


def _sweep_handler(args: argparse.Namespace) -> int:
    from loadtest.jobs import run_sweep

    return _guarded(lambda: _finish(asyncio.run(run_sweep(args)), args))


def _guarded(job: Callable[[], int]) -> int:
    """Run a job; bad options, missing data or an unreachable server end with one clear line, exit code 2."""
    import httpx

    try:
        return job()
    except (ValueError, OSError, RuntimeError, httpx.HTTPError) as exc:
        print(f"slmrank loadtest: error: {exc}", file=sys.stderr)
        return 2


def _report_handler(args: argparse.Namespace) -> int:
    from loadtest.report import Report

    report = Report.merge(args.inputs, args.title)
    report.commands.append(command_line())
    report.notes += args.note
    for path in report.write(args.out):
        print(path)
    return 0


def _finish(result: tuple[Any, bool], args: argparse.Namespace) -> int:
    report, is_partial = result
    report.commands.append(command_line())
    report.notes += args.note
    for path in report.write(args.out):
        print(path)
    return 130 if is_partial else 0
