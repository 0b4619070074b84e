"""How the embedded engine scales: repeat-member latency vs prefix length and vs k, KV bytes per cached member,
cache hit ratio and P99 under a Zipf member stream with a cache smaller than the working set (the engine's LRU
measured beside a simulated LRU and Belady's optimum on the same stream), and throughput with many members in flight.

    python bench/engine_scaling.py --shape qwen3-0.6b-layer --dtype bfloat16
    python bench/engine_scaling.py --cpu-dry-run     # tiny shape, seconds (the test suite runs this)

Writes bench/results/<name>.md, .json and .png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from cache_policies import belady_hits, lru_hits, zipf_stream
from compute_floor import cpu_description
from prefill_baselines import kv_bytes_per_token
from prefill_shapes import build, make_prompt

from ranking.engine.embedded_engine import EmbeddedEngine
from ranking.scorer import ScoreBatch


async def latency(engine: EmbeddedEngine, batch: ScoreBatch, repeats: int) -> float:
    """Median seconds of `repeats` scorings of the same (already cached) member."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        await engine.score(batch)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def hot_curves(engine: EmbeddedEngine, args: argparse.Namespace, gen: torch.Generator) -> dict[str, Any]:
    """Repeat-member latency against prefix length (k fixed) and against k (prefix fixed), plus cold latency."""
    vocab = engine.loaded.vocab_size
    by_prefix = []
    for prefix_len in args.prefix_lens:
        batch = make_prompt(gen, vocab, prefix_len, args.suffix_len, args.k)
        cold = await latency(engine, batch, 1)
        by_prefix.append(
            {"prefix_len": prefix_len, "cold_ms": cold * 1e3, "hot_ms": await latency(engine, batch, 3) * 1e3}
        )
    by_k = []
    base = make_prompt(gen, vocab, args.k_prefix_len, args.suffix_len, 1).prefix_ids
    await engine.score(ScoreBatch(base, ((11,),), (3, 4), normalise_over="labels"))  # cache the shared prefix once
    for k in args.ks:
        suffixes = make_prompt(gen, vocab, 1, args.suffix_len, k).suffix_ids
        batch = ScoreBatch(base, suffixes, (3, 4), normalise_over="labels")
        by_k.append({"k": k, "hot_ms": await latency(engine, batch, 3) * 1e3})
    return {"by_prefix": by_prefix, "by_k": by_k}


async def kv_footprint(engine: EmbeddedEngine, args: argparse.Namespace, gen: torch.Generator) -> dict[str, Any]:
    """Bytes the radix cache holds for one member of `zipf_prefix_len` tokens, measured and computed."""
    assert engine.cache is not None
    engine.cache.reset()
    await engine.score(make_prompt(gen, engine.loaded.vocab_size, args.zipf_prefix_len, args.suffix_len, 1))
    measured = engine.cache.bytes_in_use
    computed = kv_bytes_per_token(engine.loaded.model) * args.zipf_prefix_len
    return {
        "prefix_len": args.zipf_prefix_len,
        "bytes": measured,
        "computed_bytes": computed,
        "members_per_gib": 2**30 / measured,
    }


async def zipf_run(args: argparse.Namespace, gen: torch.Generator, member_bytes: int) -> dict[str, Any]:
    """A Zipf member stream through an engine whose cache holds `--cache-members` members of the working set."""
    args_small = argparse.Namespace(**{**vars(args), "cache_gib": args.cache_members * member_bytes * 1.02 / 2**30})
    engine, _ = build(args_small)
    await engine.start()
    prefixes = [
        make_prompt(gen, engine.loaded.vocab_size, args.zipf_prefix_len, 1, 1).prefix_ids
        for _ in range(args.num_members)
    ]
    stream = zipf_stream(args.num_members, args.zipf_requests, args.zipf_s, args.seed)
    latencies, hits = [], 0
    for member in stream:
        suffixes = make_prompt(gen, engine.loaded.vocab_size, 1, args.suffix_len, args.k).suffix_ids
        started = time.perf_counter()
        result = await engine.score(ScoreBatch(prefixes[member], suffixes, (3, 4), normalise_over="labels"))
        latencies.append(time.perf_counter() - started)
        hits += result.cached_tokens >= args.k * args.zipf_prefix_len  # the whole prefix came from the cache
    await engine.close()
    ordered = sorted(latencies)
    return {
        "members": args.num_members,
        "requests": len(stream),
        "zipf_s": args.zipf_s,
        "cache_members": args.cache_members,
        "engine_hit_ratio": hits / len(stream),
        "lru_hit_ratio": lru_hits(stream, args.cache_members) / len(stream),
        "belady_hit_ratio": belady_hits(stream, args.cache_members) / len(stream),
        "p50_ms": statistics.median(ordered) * 1e3,
        "p99_ms": ordered[round(0.99 * (len(ordered) - 1))] * 1e3,
    }


async def concurrency(engine: EmbeddedEngine, args: argparse.Namespace, gen: torch.Generator) -> list[dict[str, Any]]:
    """Repeat members submitted together: candidates/s and P99 as more members share forward passes."""
    vocab, rows = engine.loaded.vocab_size, []
    batches = [
        make_prompt(gen, vocab, args.zipf_prefix_len, args.suffix_len, args.k) for _ in range(max(args.in_flight))
    ]
    for batch in batches:
        await engine.score(batch)
    for in_flight in args.in_flight:
        passes, started = engine.stats.forward_passes, time.perf_counter()

        async def one(b: ScoreBatch, t0: float = started) -> float:
            await engine.score(b)
            return time.perf_counter() - t0

        done = await asyncio.gather(*(one(b) for b in batches[:in_flight]))
        wall = max(done)
        rows.append(
            {
                "in_flight": in_flight,
                "candidates_per_s": in_flight * args.k / wall,
                "p99_ms": max(done) * 1e3,
                "forward_passes": engine.stats.forward_passes - passes,
            }
        )
    return rows


def plot(result: dict[str, Any], path: Path) -> None:
    """Three panels: latency vs prefix length, hot latency vs k, hit ratios of the Zipf stream."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    by_prefix, by_k, zipf = result["curves"]["by_prefix"], result["curves"]["by_k"], result["zipf"]
    axes[0].plot([r["prefix_len"] for r in by_prefix], [r["cold_ms"] for r in by_prefix], "o-", label="first request")
    axes[0].plot([r["prefix_len"] for r in by_prefix], [r["hot_ms"] for r in by_prefix], "o-", label="repeat member")
    axes[0].set(
        xscale="log",
        yscale="log",
        xlabel="member prefix, tokens",
        ylabel="latency, ms",
        title=f"k = {result['meta']['k']}",
    )
    axes[0].legend()
    axes[1].plot([r["k"] for r in by_k], [r["hot_ms"] for r in by_k], "o-")
    axes[1].set(
        xscale="log",
        xlabel="candidates k",
        ylabel="repeat-member latency, ms",
        title=f"prefix {result['meta']['k_prefix_len']} tokens",
    )
    names = ["engine", "LRU (simulated)", "Belady (optimal)"]
    values = [zipf["engine_hit_ratio"], zipf["lru_hit_ratio"], zipf["belady_hit_ratio"]]
    axes[2].bar(names, values)
    axes[2].set(
        ylim=(0, 1),
        ylabel="prefix hit ratio",
        title=f"Zipf s={zipf['zipf_s']}, cache {zipf['cache_members']}/{zipf['members']} members",
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def to_markdown(result: dict[str, Any]) -> str:
    meta, curves, kv, zipf = result["meta"], result["curves"], result["kv"], result["zipf"]
    lines = [
        "# Embedded engine scaling",
        "",
        f"Command: `{meta['command']}`",
        "",
        f"Model: random Qwen3 `{meta['shape']}`, {meta['dtype']}, {meta['threads']} thread(s), {meta['machine']};"
        f" {meta['suffix_len']}-token suffixes. Load average (1 min) at start / end:"
        f" {meta['load_average'][0]:.1f} / {meta['load_average'][1]:.1f}.",
        "",
        f"## Latency vs prefix length (k = {meta['k']})",
        "",
        "| prefix | first request ms | repeat member ms |",
        "|---|---|---|",
        *(f"| {r['prefix_len']} | {r['cold_ms']:.1f} | {r['hot_ms']:.1f} |" for r in curves["by_prefix"]),
        "",
        f"## Repeat-member latency vs k (prefix {meta['k_prefix_len']})",
        "",
        "| k | ms |",
        "|---|---|",
        *(f"| {r['k']} | {r['hot_ms']:.1f} |" for r in curves["by_k"]),
        "",
        "## KV cache footprint",
        "",
        f"One member of {kv['prefix_len']} tokens holds **{kv['bytes']:,} bytes** in the radix cache"
        f" (computed from the shape: {kv['computed_bytes']:,}): **{kv['members_per_gib']:.1f} members"
        " per GiB** at this prefix length (it scales as 1 / prefix length).",
        "",
        "## Zipf member stream, cache smaller than the working set",
        "",
        f"{zipf['requests']} requests over {zipf['members']} members (Zipf s = {zipf['zipf_s']}), cache budget for"
        f" {zipf['cache_members']} members.",
        "",
        "| policy | prefix hit ratio |",
        "|---|---|",
        f"| engine (radix cache, LRU leaves) | {zipf['engine_hit_ratio']:.3f} |",
        f"| LRU, simulated on the same stream | {zipf['lru_hit_ratio']:.3f} |",
        f"| Belady's optimum, same stream | {zipf['belady_hit_ratio']:.3f} |",
        "",
        f"Latency over the stream: P50 {zipf['p50_ms']:.1f} ms, P99 {zipf['p99_ms']:.1f} ms.",
        "",
        "## Repeat members in flight together",
        "",
        "| in flight | candidates/s | P99 ms | forward passes |",
        "|---|---|---|---|",
        *(
            f"| {r['in_flight']} | {r['candidates_per_s']:.1f} | {r['p99_ms']:.1f} | {r['forward_passes']} |"
            for r in result["concurrency"]
        ),
    ]
    return "\n".join(lines) + "\n"


async def main(args: argparse.Namespace) -> dict[str, Any]:
    import platform

    torch.set_num_threads(args.threads)
    load_at_start = os.getloadavg()[0]
    gen = torch.Generator().manual_seed(args.seed)
    engine, shape = build(args)
    await engine.start()
    curves = await hot_curves(engine, args, gen)
    kv = await kv_footprint(engine, args, gen)
    rows = await concurrency(engine, args, gen)
    await engine.close()
    zipf = await zipf_run(args, gen, kv["bytes"])
    meta = {
        "command": " ".join(["python", *sys.argv]),
        "shape": shape.name,
        "dtype": args.dtype,
        "threads": args.threads,
        "load_average": [load_at_start, os.getloadavg()[0]],
        "machine": f"{platform.machine()}, {os.cpu_count()} cores ({cpu_description()}), torch {torch.__version__}",
        "k": args.k,
        "k_prefix_len": args.k_prefix_len,
        "suffix_len": args.suffix_len,
    }
    result = {"meta": meta, "curves": curves, "kv": kv, "zipf": zipf, "concurrency": rows}
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    markdown = to_markdown(result)
    print(markdown)
    (out / f"{args.name}.md").write_text(markdown)
    (out / f"{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, out / f"{args.name}.png")
    return result


def int_list(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="qwen3-0.6b-layer")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prefix-lens", type=int_list, default=[512, 1024, 2048, 4096, 8192, 16384])
    parser.add_argument("--k", type=int, default=8, help="candidates for the prefix-length curve and the stream")
    parser.add_argument("--ks", type=int_list, default=[1, 2, 4, 8, 16, 32, 64])
    parser.add_argument("--k-prefix-len", type=int, default=4096)
    parser.add_argument("--suffix-len", type=int, default=40)
    parser.add_argument("--zipf-prefix-len", type=int, default=1024)
    parser.add_argument("--num-members", type=int, default=200)
    parser.add_argument("--cache-members", type=int, default=40)
    parser.add_argument("--zipf-requests", type=int, default=600)
    parser.add_argument("--zipf-s", type=float, default=1.1)
    parser.add_argument("--in-flight", type=int_list, default=[1, 2, 4, 8, 16])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="engine-scaling-cpu")
    parser.add_argument("--out-dir", default="bench/results")
    parser.add_argument("--cpu-dry-run", action="store_true", help="tiny shape, small stream: a plumbing check")
    args = parser.parse_args(argv)
    args.fp8, args.max_batch_tokens, args.cache_gib, args.default_malloc = False, 8192, 4.0, False
    if args.cpu_dry_run:
        args.shape, args.prefix_lens, args.ks, args.k_prefix_len, args.zipf_prefix_len = (
            "tiny",
            [32, 128],
            [1, 4],
            64,
            64,
        )
        args.num_members, args.cache_members, args.zipf_requests, args.in_flight, args.threads = 20, 5, 60, [1, 4], 1
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
