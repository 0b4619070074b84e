"""The `run` (grid of configurations) and `sweep` jobs behind the CLI, built on one LoadSession each."""

from __future__ import annotations

import argparse
import asyncio
import math
import secrets
import sys
import time
from typing import Any

from loadtest.arrival_schedule import ScheduleConfig
from loadtest.gateway_target import GatewayTarget
from loadtest.load_runner import RunConfig
from loadtest.load_session import LoadSession
from loadtest.model_card_source import CardTask, task_for
from loadtest.movielens import MovieLens
from loadtest.report import Report
from loadtest.run_summary import RunSummary
from loadtest.sglang_target import SGLangTarget
from loadtest.sweep import Sweep, SweepConfig
from loadtest.target import Target
from loadtest.vllm_target import VLLMTarget
from loadtest.workload import WorkloadConfig
from ranking.tasks import Task

DEFAULT_CHARS_PER_TOKEN = 4.0
# Options are checked before anything is sent, the card included; their checks do not read the task's texts.
CHECK_TASK = Task("options-check", "-", "-", "+", "-")
READY_PATHS = {"gateway": "/readyz", "sglang-generate": "/health", "vllm-completions": "/health"}


def default_namespace() -> str:
    """A fresh member-id prefix, so this invocation's cold members are new to a long-running server."""
    return "lt" + secrets.token_hex(3)


def build_target(args: argparse.Namespace) -> Target:
    """The Target named by --target."""
    kinds: dict[str, type[Target]] = {
        "gateway": GatewayTarget,
        "sglang-generate": SGLangTarget,
        "vllm-completions": VLLMTarget,
    }
    return kinds[args.target](args.url, api_key=args.api_key, model=args.model_name)


async def run_grid(args: argparse.Namespace) -> tuple[Report, bool]:
    """Every (context, k, repeat fraction) at one rate, in that order; returns (report, interrupted)."""
    report = Report(args.title)
    namespace = args.namespace or default_namespace()
    for ctx, k, p in ((c, k, p) for c in args.context_tokens for k in args.k for p in args.repeat_fraction):
        _run_config(
            args, "check", args.rate, _workload(args, CHECK_TASK, k, ctx, p, DEFAULT_CHARS_PER_TOKEN, namespace)
        )
    picked = await asyncio.to_thread(task_for, args)
    task = picked.task
    async with await _session(args, report) as session:
        cpt = await _chars_per_token(session, args, task, namespace, report)
        for ctx in args.context_tokens:
            for k in args.k:
                for p in args.repeat_fraction:
                    if session.is_stopped:
                        break
                    label = f"k={k} {'hot' if p > 0 else 'cold'} ctx={ctx}" + _cap_label(args)
                    workload = _workload(args, task, k, ctx, p, cpt, f"{namespace}-{len(report.runs)}", picked)
                    summary = await session.run(_run_config(args, label, args.rate, workload), args.slo_ms)
                    report.runs.append(_with_latencies(summary))
                    _print_line(summary)
        report.meta["model"] = session.model
    return report, session.is_stopped


async def run_sweep(args: argparse.Namespace) -> tuple[Report, bool]:
    """The sweep of --rates for one workload; returns the report and 'interrupted'."""
    report = Report(args.title)
    namespace = args.namespace or default_namespace()
    config = SweepConfig(
        tuple(sorted(set(args.rates))),
        args.slo_ms,
        args.slo_percentile,
        args.max_error_fraction,
        args.refine,
        not args.no_stop_on_fail,
    )
    picked = await asyncio.to_thread(task_for, args)
    task = picked.task
    for rate in config.rates:  # refuse bad options before sending any ranking request
        check = _workload(
            args, task, args.k, args.context_tokens, args.repeat_fraction, DEFAULT_CHARS_PER_TOKEN, namespace
        )
        _run_config(args, "check", rate, check)
    async with await _session(args, report) as session:
        cpt = await _chars_per_token(session, args, task, namespace, report)
        members = "hot" if args.repeat_fraction > 0 else "cold"

        async def at_rate(rate: float) -> RunSummary:
            workload = _workload(
                args,
                task,
                args.k,
                args.context_tokens,
                args.repeat_fraction,
                cpt,
                f"{namespace}-r{rate:g}",
                picked,
            )
            label = f"{rate:g}/s k={args.k} {members} ctx={args.context_tokens}" + _cap_label(args)
            summary = await session.run(_run_config(args, label, rate, workload), args.slo_ms)
            _print_line(summary)
            return summary

        result = await Sweep(config, at_rate, lambda: session.is_stopped).run()
        per_rate = f"{args.duration_s:g} s per rate" if args.duration_s else f"{args.num_requests} requests per rate"
        result["label"] = f"sweep: k={args.k}, {members} members, context {args.context_tokens} tokens, {per_rate}"
        report.sweeps.append(result)
        report.meta["model"] = session.model
    return report, session.is_stopped


async def _session(args: argparse.Namespace, report: Report) -> LoadSession:
    target = build_target(args)
    report.meta.update({"target": args.target, "url": args.url})
    return LoadSession(target, MovieLens.load(args.data_dir), args.timeout_s, show_progress=not args.no_progress)


async def _chars_per_token(
    session: LoadSession, args: argparse.Namespace, task: Task, namespace: str, report: Report
) -> float:
    """--chars-per-token, else a calibration probe, else 4.0; waits for readiness first if asked."""
    await _wait_ready(session, args)
    cpt = args.chars_per_token
    source = "given"
    if cpt is None:
        probe = WorkloadConfig(task=task, namespace=namespace, seed=args.seed)
        cpt, source = await session.calibrate(probe), "probe"
        if cpt is None:
            cpt, source = DEFAULT_CHARS_PER_TOKEN, "default (the probe reported no prompt_tokens)"
    report.meta["chars_per_token"] = f"{cpt:.3f} ({source})"
    return cpt


async def _wait_ready(session: LoadSession, args: argparse.Namespace) -> None:
    deadline = time.monotonic() + args.wait_ready_s
    url = args.url.rstrip("/") + READY_PATHS[args.target]
    assert session.client is not None
    while time.monotonic() < deadline and not session.is_stopped:
        try:
            if (await session.client.get(url)).status_code == 200:
                return
        except Exception:
            pass
        await asyncio.sleep(1.0)


def _workload(
    args: argparse.Namespace,
    task: Task,
    k: int,
    ctx: int,
    p: float,
    cpt: float,
    namespace: str,
    shown: CardTask | None = None,
) -> WorkloadConfig:
    """`shown`: the card's task and which rates its prompts show (engine-direct prompt texts render them)."""
    return WorkloadConfig(
        label_rates=shown is not None and shown.label_rates,
        similar_rates=shown is not None and shown.similar_rates,
        k=k,
        context_tokens=ctx,
        repeat_fraction=p,
        chars_per_token=cpt,
        task=task,
        namespace=namespace,
        seed=args.seed,
    )


def _run_config(args: argparse.Namespace, label: str, rate: float, workload: WorkloadConfig) -> RunConfig:
    measured = math.ceil(rate * args.duration_s) if args.duration_s else args.num_requests
    schedule = ScheduleConfig(
        rate, measured + args.warmup, args.arrival, args.burstiness, args.seed, not args.no_exact_rate
    )
    return RunConfig(label, schedule, workload, args.warmup, args.max_concurrency, args.timeout_s)


def _cap_label(args: argparse.Namespace) -> str:
    """A concurrency cap changes what is measured, so it is named in the label."""
    return f" cap={args.max_concurrency}" if args.max_concurrency else ""


def _with_latencies(summary: RunSummary) -> dict[str, Any]:
    summary.data["latencies_ms"] = [round(x, 3) for x in summary.latencies_ms()]
    return summary.data


def _print_line(summary: RunSummary) -> None:
    d = summary.data
    t, tp = d["ttft_ms"], d["throughput"]
    p50, p99 = t.get("p50"), t.get("p99")
    sys.stderr.write(
        f"{d['label']}: N={t['count']} P50 {p50 if p50 is None else round(p50, 1)} ms "
        f"P99 {p99 if p99 is None else round(p99, 1)} ms members/s {tp['members_per_s']:.2f} "
        f"errors {d['requests']['failed']}\n"
    )
