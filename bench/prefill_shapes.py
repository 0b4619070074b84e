"""Prefill at real shapes: the embedded engine against plain transformers, cold and hot, beside the compute floor.

Side by side in one run, on one random Qwen3 of a real layer shape and the same prompts (token ids in, label
log-probs out; long member prefix + k short candidate suffixes, one next-token read per candidate):
  (a) plain transformers, every full prompt recomputed, one at a time (skipped above --max-plain-tokens);
  (b) plain transformers with prefix reuse: the prefix's past_key_values computed once and expanded over the k
      suffixes in batched forwards (chunks of candidates keep the expanded KV under --baseline-kv-gib);
  (c) vLLM CPU (--vllm: a real server from .venv-vllm, prefix caching on, the gateway's client), first request
      of a member and the same member again;
  (d) the embedded engine, a first-seen member (cold prefill) and the same member again (hot: radix cache).
Each row has P50/P99 latency (= TTFT: one token is read), candidates/s, CPU seconds per request and the floor:
FLOPs of the tokens that must be computed / this machine's measured matmul rate in the run's dtype.

    python bench/prefill_shapes.py --shape qwen3-0.6b-layer --prefix-lens 1024,4096 --ks 1,8,32
    python bench/prefill_shapes.py --cpu-dry-run          # tiny shape, seconds (the test suite runs this)
    bench/gpu/run.sh                                       # the GPU run (2.1B shape, 16k/32k prefixes)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from compute_floor import SHAPES, DecoderShape, cpu_description, matmul_rate, random_decoder
from fp8_weights import to_fp8_weights
from prefill_baselines import full_prompt_scores, prefix_reuse_scores
from vllm_baseline import process_tree_cpu_seconds, save_for_vllm, start_vllm, vllm_scorer, wait_until_idle

from ranking.engine.embedded_engine import EmbeddedEngine, EngineConfig
from ranking.model_loader import DTYPES, LoadedModel, one_torch_thread
from ranking.scorer import ScoreBatch, Scorer

MODES = (
    "(a) transformers, full prompts",
    "(b) transformers, prefix reuse",
    "(c) vLLM CPU, first request",
    "(c) vLLM CPU, repeat member",
    "(d) engine, cold",
    "(d) engine, hot",
)
VLLM_MODES, ENGINE_MODES = MODES[2:4], MODES[4:]


def make_prompt(gen: torch.Generator, vocab: int, prefix_len: int, suffix_len: int, k: int) -> ScoreBatch:
    """Random token ids (never 0-9, kept for labels): one member prefix and k candidate suffixes."""
    prefix = torch.randint(10, vocab, (prefix_len,), generator=gen).tolist()
    suffixes = torch.randint(10, vocab, (k, suffix_len), generator=gen).tolist()
    # Normalised over the labels, as /rank asks (engines that cannot, like vLLM, return vocabulary log-probs).
    return ScoreBatch(tuple(prefix), tuple(tuple(s) for s in suffixes), (3, 4), normalise_over="labels")


def timed(device: torch.device, fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall seconds (device synchronised), process CPU seconds, result."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started, cpu = time.perf_counter(), time.process_time()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started, time.process_time() - cpu, out


class Cell:
    """One (prefix length, k) cell: every mode's latencies, CPU times and scores."""

    def __init__(self, prefix_len: int, k: int) -> None:
        self.prefix_len, self.k = prefix_len, k
        self.wall: dict[str, list[float]] = {m: [] for m in MODES}
        self.cpu: dict[str, list[float]] = {m: [] for m in MODES}
        self.scores: dict[str, list[list[float]]] = {m: [] for m in MODES}
        self.skipped: dict[str, str] = {}

    def add(self, mode: str, wall: float, cpu: float, rows: Any) -> None:
        self.wall[mode].append(wall)
        self.cpu[mode].append(cpu)
        self.scores[mode] += [list(r) for r in rows]


async def run_cell(
    engine: EmbeddedEngine, vllm: Scorer | None, args: argparse.Namespace, cell: Cell, gen: torch.Generator
) -> None:
    """Members one after another; every mode on each member before the next, so machine noise hits all alike."""
    loaded, device = engine.loaded, engine.loaded.device
    plain_tokens = cell.k * (cell.prefix_len + args.suffix_len)
    if plain_tokens > args.max_plain_tokens:
        cell.skipped[MODES[0]] = f"{plain_tokens} recomputed tokens > --max-plain-tokens {args.max_plain_tokens}"
    kv_bytes = args.baseline_kv_gib * 2**30
    server_pid = getattr(args, "vllm_pid", None)

    def vllm_cpu() -> float:  # the client's CPU time plus the server's (its own processes)
        return time.process_time() + (process_tree_cpu_seconds(server_pid) if server_pid else 0.0)

    for _ in range(args.members):
        batch = make_prompt(gen, loaded.vocab_size, cell.prefix_len, args.suffix_len, cell.k)
        # The baselines run on the engine's worker thread too: a second thread doing tensor work would start a
        # second OpenMP team, which slows both (EmbeddedEngine.start).
        if MODES[0] not in cell.skipped:
            plain = await engine.run_on_worker(
                lambda b=batch: timed(device, lambda: full_prompt_scores(loaded.model, b))
            )
            cell.add(MODES[0], *plain)
        reuse = await engine.run_on_worker(
            lambda b=batch: timed(device, lambda: prefix_reuse_scores(loaded.model, b, kv_bytes))
        )
        cell.add(MODES[1], *reuse)
        for scorer, modes, cpu_clock in ((vllm, VLLM_MODES, vllm_cpu), (engine, ENGINE_MODES, time.process_time)):
            for mode in modes if scorer is not None else ():
                started, cpu = time.perf_counter(), cpu_clock()
                result = await scorer.score(replace(batch, deadline=time.monotonic() + 900))
                cell.add(mode, time.perf_counter() - started, cpu_clock() - cpu, result.label_logprobs)
                if server_pid:  # the next mode starts once vLLM's workers stop spinning
                    wait_until_idle(server_pid)
    if vllm is None:
        cell.skipped.update({m: "no --vllm" for m in VLLM_MODES})


def _log_odds(rows: torch.Tensor) -> torch.Tensor:
    """[n, 2] label log-probs -> [n] log-odds, what a score is made of (equal however the pair was normalised)."""
    return rows[:, 0] - rows[:, 1]


def summarise(cell: Cell, shape: DecoderShape, suffix_len: int, flops_per_s: float) -> list[dict[str, Any]]:
    """A row per mode: latency percentiles, throughput, CPU time, floor and agreement with (b)."""
    rows = []
    ref = torch.tensor(cell.scores[MODES[1]])
    for mode in MODES:
        if mode in cell.skipped:
            rows.append({"prefix_len": cell.prefix_len, "k": cell.k, "mode": mode, "skipped": cell.skipped[mode]})
            continue
        wall = sorted(cell.wall[mode])
        p99 = wall[min(len(wall) - 1, round(0.99 * (len(wall) - 1)))]
        is_hot = mode in (VLLM_MODES[1], ENGINE_MODES[1])
        flops = shape.request_flops(cell.prefix_len, suffix_len, cell.k, prefix_cached=is_hot)
        if mode.startswith("(a)"):  # the baseline recomputes the prefix for each candidate: its own floor is higher
            flops = cell.k * shape.request_flops(cell.prefix_len, suffix_len, 1, prefix_cached=False)
        floor_ms = flops / flops_per_s * 1000
        p50_ms = statistics.median(wall) * 1000
        diff = float((_log_odds(torch.tensor(cell.scores[mode])) - _log_odds(ref)).abs().max())
        rows.append(
            {
                "prefix_len": cell.prefix_len,
                "k": cell.k,
                "mode": mode,
                "requests": len(wall),
                "p50_ms": p50_ms,
                "p99_ms": p99 * 1000,
                "candidates_per_s": cell.k * len(wall) / sum(wall),
                "cpu_s_per_request": statistics.mean(cell.cpu[mode]),
                "floor_ms": floor_ms,
                "p50_over_floor": p50_ms / floor_ms,
                "max_abs_log_odds_diff_vs_b": diff,
            }
        )
    return rows


def to_markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The results table with the run's setting above it."""
    lines = [
        f"# Prefill at real shapes ({meta['device_name']})",
        "",
        f"Command: `{meta['command']}`",
        "",
        f"Model: random Qwen3, shape `{meta['shape']}` ({meta['shape_text']}); dtype {meta['dtype']};"
        f" {meta['threads']} CPU thread(s); {meta['machine']}.",
        f"Measured matmul rate ({meta['matmul_size']}^3, {meta['dtype']}, best of {len(meta['flops_per_s_readings'])}"
        f" readings): **{meta['flops_per_s'] / 1e9:.0f} GFLOP/s**;"
        " the floor of a row is the FLOPs of the tokens that mode must compute divided by it.",
        f"Prompts: random token ids, {meta['suffix_len']}-token candidate suffixes, {meta['members']} member(s) per"
        " cell; latency = time to the label log-probs (TTFT of the one generated token).",
        "",
        "| prefix | k | mode | P50 ms | P99 ms | candidates/s | CPU s/request | floor ms | P50 / floor |"
        " max abs log-odds diff vs (b) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['prefix_len']} | {r['k']} | {r['mode']} | skipped: {r['skipped']} ||||||")
            continue
        lines.append(
            f"| {r['prefix_len']} | {r['k']} | {r['mode']} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |"
            f" {r['candidates_per_s']:.1f} | {r['cpu_s_per_request']:.2f} | {r['floor_ms']:.1f} |"
            f" {r['p50_over_floor']:.1f}x | {r['max_abs_log_odds_diff_vs_b']:.1e} |"
        )
    return "\n".join(lines) + "\n"


def build(args: argparse.Namespace) -> tuple[EmbeddedEngine, DecoderShape]:
    """The random model wrapped as the engine's LoadedModel (the engine needs no tokenizer: ids in)."""
    shape, device, dtype = SHAPES[args.shape], torch.device(args.device), DTYPES[args.dtype]
    with one_torch_thread():
        model = random_decoder(shape, device, dtype, seed=args.seed)
        if args.fp8:
            to_fp8_weights(model)
    tokens_only = SimpleNamespace(bos_token_id=1)  # the engine's warm-up reads the BOS id; prompts are ids already
    loaded = LoadedModel(model, tokens_only, f"random-{shape.name}", shape.vocab_size, device, dtype)
    config = EngineConfig(
        kv_cache_bytes=args.cache_gib * 2**30,
        max_batch_tokens=args.max_batch_tokens,
        keep_freed_memory=not args.default_malloc,
    )
    return EmbeddedEngine(loaded, config), shape


def start_vllm_baseline(engine: EmbeddedEngine, args: argparse.Namespace) -> tuple[Any, Scorer]:
    """Saves the engine's random model and starts vLLM CPU on it (minutes: the server loads and compiles)."""
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="prefill-vllm-"))
    model_dir = save_for_vllm(engine.loaded.model, work / "model")
    max_len = max(args.prefix_lens) + args.suffix_len + 16
    server = start_vllm(model_dir, work, args.dtype, max_len, kv_cache_gib=max(1, round(args.cache_gib)))
    return server, vllm_scorer(server)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    engine, shape = build(args)
    await engine.start()
    server, vllm = start_vllm_baseline(engine, args) if args.vllm else (None, None)
    args.vllm_pid = server.pid if server is not None else None
    gen = torch.Generator().manual_seed(args.seed)
    warm = Cell(min(args.prefix_lens), 1)
    await run_cell(engine, vllm, argparse.Namespace(**{**vars(args), "members": 1}), warm, gen)
    device, dtype = engine.loaded.device, engine.loaded.dtype

    # The floor uses the best matmul rate seen (measured before and after every cell): on a shared machine a
    # single reading taken while other jobs run would make the floor too lenient.
    def rate() -> float:
        return matmul_rate(device, dtype, args.matmul_size)

    rates = [await engine.run_on_worker(rate)]
    cells = []
    for prefix_len in args.prefix_lens:
        for k in args.ks:
            cells.append(Cell(prefix_len, k))
            await run_cell(engine, vllm, args, cells[-1], gen)
            rates.append(await engine.run_on_worker(rate))
            print(f"prefix {prefix_len} k {k} done", file=sys.stderr, flush=True)
    flops_per_s = max(rates)
    rows = [row for cell in cells for row in summarise(cell, shape, args.suffix_len, flops_per_s)]
    await engine.close()
    if server is not None and vllm is not None:
        await vllm.close()
        server.stop()
    device_name = torch.cuda.get_device_name(engine.loaded.device) if args.device.startswith("cuda") else "CPU"
    meta = {
        "command": " ".join(["python", *sys.argv]),
        "device_name": device_name + (", FP8 weights" if args.fp8 else ""),
        "shape": shape.name,
        "shape_text": f"{shape.num_layers} layers, hidden {shape.hidden}, MLP {shape.intermediate},"
        f" {shape.num_heads}/{shape.num_kv_heads} heads, head_dim {shape.head_dim}, vocab {shape.vocab_size}",
        "dtype": args.dtype,
        "threads": args.threads,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores ({cpu_description()}), torch {torch.__version__}",
        "matmul_size": args.matmul_size,
        "flops_per_s": flops_per_s,
        "flops_per_s_readings": rates,
        "suffix_len": args.suffix_len,
        "members": args.members,
    }
    markdown = to_markdown(rows, meta)
    print(markdown)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.md").write_text(markdown)
    result = {"meta": meta, "rows": rows}
    (out / f"{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def int_list(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="qwen3-0.6b-layer")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    parser.add_argument("--vllm", action="store_true", help="baseline (c): a vLLM CPU server from .venv-vllm")
    parser.add_argument("--fp8", action="store_true", help="FP8 weights (row-wise scales; _scaled_mm on CUDA)")
    parser.add_argument("--prefix-lens", type=int_list, default=[1024, 4096])
    parser.add_argument("--ks", type=int_list, default=[1, 8, 32])
    parser.add_argument("--suffix-len", type=int, default=40)
    parser.add_argument("--members", type=int, default=3, help="members (requests) per cell")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-plain-tokens", type=int, default=40_000, help="skip (a) above this many tokens")
    parser.add_argument("--baseline-kv-gib", type=float, default=2.0, help="(b): expanded KV per forward chunk")
    parser.add_argument("--cache-gib", type=float, default=4.0, help="engine radix cache budget")
    parser.add_argument("--max-batch-tokens", type=int, default=8192, help="engine tokens per forward step")
    parser.add_argument(
        "--default-malloc", action="store_true", help="engine with keep_freed_memory off (glibc's defaults)"
    )
    parser.add_argument("--matmul-size", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="prefill-shapes-cpu", help="results file stem")
    parser.add_argument("--out-dir", default="bench/results")
    parser.add_argument("--cpu-dry-run", action="store_true", help="tiny shape, short prefixes: a plumbing check")
    args = parser.parse_args(argv)
    if args.cpu_dry_run:
        args.shape, args.device, args.prefix_lens, args.ks, args.members = "tiny", "cpu", [64, 256], [1, 4], 2
        args.matmul_size, args.threads, args.suffix_len = 256, 1, 12
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
