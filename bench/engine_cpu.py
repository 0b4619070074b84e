"""Embedded engine on CPU: MovieLens members with long prefixes, k = 1, 8, 32 candidates.

The prompts are the checkpoint's own (its card's budgets, label rates when the card shows them: what the service
builds for it); `--prompt bench` (or a checkpoint without a card) uses this script's 1,536-token workload instead.

Side by side on the same model in one run: (a) plain transformers, one full prompt per candidate, batched;
(b) the engine with its prefix cache disabled; (c) the engine, first request of a member; (d) the engine,
the same member again. Prints a Markdown table and writes bench/results/engine-cpu.{md,json}.

    .venv/bin/python bench/engine_cpu.py [--model models/default] [--threads 1]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from compute_floor import DecoderShape, matmul_rate

from ranking.card import CARD_FILE, ModelCard
from ranking.engine.embedded_engine import EmbeddedEngine, EngineConfig
from ranking.labels import resolve_label_tokens
from ranking.member import Candidate, Interaction, Member
from ranking.model_loader import LoadedModel, load_checkpoint
from ranking.prompt_builder import PromptBuilder, PromptConfig, RankPrompt
from ranking.scorer import ScoreBatch
from training.data.label_rates import smoothed_rate
from training.data.movielens_tasks import MOVIELENS_TASKS, movielens_tasks

TASKS = movielens_tasks()

DATA = Path("data/movielens-latest-small")
RESULTS = Path("bench/results")
PROMPT = PromptConfig(max_prefix_len=1536, max_profile_len=64, max_item_len=48, max_candidate_len=48)


def read_movielens(data_dir: Path) -> tuple[dict[str, str], dict[str, list[tuple[int, str, float]]]]:
    """Movie texts "Title (Year) | Genres" by id, and each user's (timestamp, movie id, rating) list."""
    with (data_dir / "movies.csv").open(newline="", encoding="utf-8") as f:
        movies = {row["movieId"]: f"{row['title']} | {row['genres']}" for row in csv.DictReader(f)}
    ratings: dict[str, list[tuple[int, str, float]]] = {}
    with (data_dir / "ratings.csv").open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            ratings.setdefault(row["userId"], []).append((int(row["timestamp"]), row["movieId"], float(row["rating"])))
    return movies, ratings


def like_rates(ratings: dict[str, list[tuple[int, str, float]]]) -> tuple[dict[str, float], dict[str, float]]:
    """Smoothed `like` rates by member and by movie over all ratings: prompt text of the right shape, not features."""
    like = MOVIELENS_TASKS["like"]
    rows = [(u, m, like.is_positive(r)) for u, rated in ratings.items() for _, m, r in rated]
    prior = sum(y for *_, y in rows) / len(rows)

    def smoothed(key: int) -> dict[str, float]:
        counts: dict[str, list[int]] = {}
        for row in rows:
            c = counts.setdefault(row[key], [0, 0])
            c[0], c[1] = c[0] + row[2], c[1] + 1
        return {k: smoothed_rate(pos, n, prior) for k, (pos, n) in counts.items()}

    return smoothed(0), smoothed(1)


def make_requests(builder: PromptBuilder, num_members: int, k: int, rng: random.Random) -> list[RankPrompt]:
    """Prompts of distinct members with long histories, each with k unrated candidate movies."""
    movies, ratings = read_movielens(DATA)
    member_rate, item_rate = like_rates(ratings)
    users = sorted(u for u, r in ratings.items() if len(r) >= 150)
    prompts = []
    for user in rng.sample(users, num_members):
        rated = sorted(ratings[user])
        history = tuple(Interaction(movies[m], f"rated {r}", t) for t, m, r in rated[-120:])
        seen = {m for _, m, _ in rated}
        pool = [m for m in movies if m not in seen]
        rate = {"like": member_rate[user]}  # also the similar-items rate: the right shape of text, not a feature
        candidates = [Candidate(m, movies[m], None, {"like": item_rate.get(m, 0.5)}, rate) for m in rng.sample(pool, k)]
        member = Member(f"u{user}", None, history, label_rates=rate)
        prompts.append(builder.build(member, candidates, TASKS["like"]))
    return prompts


@torch.inference_mode()
def plain_scores(loaded: LoadedModel, prompt: RankPrompt, label_ids: tuple[int, ...], batch: int = 8) -> list[Any]:
    """(a): every full prompt through the transformers model, right-padded batches, lm_head on the last row."""
    model, rows = loaded.model, []
    prompts = [prompt.full_prompt(i) for i in range(len(prompt.suffix_ids))]
    for start in range(0, len(prompts), batch):
        chunk = prompts[start : start + batch]
        lengths = torch.tensor([len(p) for p in chunk])
        ids = torch.zeros((len(chunk), int(lengths.max())), dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, p in enumerate(chunk):
            ids[i, : len(p)], mask[i, : len(p)] = torch.tensor(p), 1
        hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
        logits = model.lm_head(hidden[torch.arange(len(chunk)), lengths - 1]).float()
        rows += torch.log_softmax(logits, -1)[:, list(label_ids)].tolist()
    return rows


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall seconds, process CPU seconds (steadier than wall time on a shared machine), result."""
    started, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - started, time.process_time() - cpu, out


def summarise(mode: str, k: int, latencies: list[float], extra: dict[str, Any]) -> dict[str, Any]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "mode": mode,
        "k": k,
        "requests": len(latencies),
        "candidates_per_s": k * len(latencies) / sum(latencies),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": p99 * 1000,
        **extra,
    }


ENGINE_MODES = (
    ("(b) engine, cache off", "nocache"),
    ("(c) engine, first request", "cache"),
    ("(d) engine, repeat", "cache"),
)


async def timed_score(engine: EmbeddedEngine, batch: ScoreBatch) -> tuple[float, float, Any]:
    started, cpu = time.perf_counter(), time.process_time()
    result = await engine.score(batch)
    return time.perf_counter() - started, time.process_time() - cpu, result


async def concurrent_repeats(engine: EmbeddedEngine, prompts, label_ids) -> tuple[list[float], list, list]:
    """(e): every member's repeat request submitted at once; latencies from the common start."""
    batches = [ScoreBatch(p.prefix_ids, p.suffix_ids, label_ids) for p in prompts]
    started = time.perf_counter()

    async def one(batch: ScoreBatch) -> tuple[float, Any]:
        result = await engine.score(batch)
        return time.perf_counter() - started, result

    done = await asyncio.gather(*(one(b) for b in batches))
    rows = [row for _, r in done for row in r.label_logprobs]
    return [t for t, _ in done], rows, [(r.cached_tokens, r.prompt_tokens) for _, r in done]


def floor_ms(shape: DecoderShape, rate: float, prompts: list[RankPrompt], cached: bool) -> float:
    """Mean over requests of the FLOPs the request must compute (its prefix unless cached, its k suffixes, k LM-head
    rows) divided by the measured matmul rate: the physical floor of its latency on this machine."""
    flops = [
        shape.request_flops(len(p.prefix_ids), statistics.mean(map(len, p.suffix_ids)), len(p.suffix_ids), cached)
        for p in prompts
    ]
    return statistics.mean(flops) / rate * 1000


async def bench_k(loaded: LoadedModel, engines: dict[str, EmbeddedEngine], prompts, label_ids, k, rate) -> list[dict]:
    """All modes for one k; modes interleaved member by member so CPU contention from other jobs hits each alike."""
    plain_modes = {"(a) transformers, full prompts, batch 1": 1}
    if k > 1:
        plain_modes["(a8) transformers, full prompts, batch 8"] = 8
    latencies: dict[str, list[float]] = {m: [] for m in [*plain_modes, *(m for m, _ in ENGINE_MODES)]}
    scores: dict[str, list[Any]] = {m: [] for m in latencies}
    cpu: dict[str, list[float]] = {m: [] for m in latencies}
    shares: dict[str, list[tuple[int, int]]] = {m: [] for m in latencies}
    for prompt in prompts:
        for mode, batch_size in plain_modes.items():
            seconds, cpu_s, rows = timed(lambda p=prompt, b=batch_size: plain_scores(loaded, p, label_ids, b))
            latencies[mode].append(seconds)
            cpu[mode].append(cpu_s)
            scores[mode] += rows
            shares[mode].append((0, prompt.prompt_tokens))
        batch = ScoreBatch(prompt.prefix_ids, prompt.suffix_ids, label_ids)
        for mode, key in ENGINE_MODES:
            seconds, cpu_s, result = await timed_score(engines[key], batch)
            latencies[mode].append(seconds)
            cpu[mode].append(cpu_s)
            scores[mode] += result.label_logprobs
            shares[mode].append((result.cached_tokens, result.prompt_tokens))
    passes, burst_cpu = engines["cache"].stats.forward_passes, time.process_time()
    burst = await concurrent_repeats(engines["cache"], prompts, label_ids)
    passes, burst_cpu = engines["cache"].stats.forward_passes - passes, time.process_time() - burst_cpu
    mode = f"(e) engine, repeat, {len(prompts)} in flight (forward passes: {passes})"
    latencies[mode], scores[mode], shares[mode] = burst
    cpu[mode] = [burst_cpu / len(prompts)] * len(prompts)
    ref = torch.tensor(scores[next(iter(plain_modes))])
    shape, rows = DecoderShape.of(loaded.model.config), []
    for mode, values in latencies.items():
        extra = {
            "cached_share": sum(c for c, _ in shares[mode]) / sum(t for _, t in shares[mode]),
            "max_abs_diff_vs_a": float((torch.tensor(scores[mode]) - ref).abs().max()),
            "cpu_ms_per_request": statistics.mean(cpu[mode]) * 1000,
        }
        row = summarise(mode, k, values, extra)
        if mode.startswith("(e)"):
            row["candidates_per_s"] = k * len(values) / max(values)  # requests overlap: wall time, not the sum
        # The floor of what the task needs: a first request its prefix and suffixes, a repeat only its suffixes.
        row["floor_ms"] = floor_ms(shape, rate, prompts, cached=mode[:3] in ("(d)", "(e)"))
        row["p50_over_floor"] = row["p50_ms"] / row["floor_ms"]
        rows.append(row)
    # A repeat request still computes every suffix token; a first request computes the prefix too. The ratio
    # of those token counts bounds how much faster a repeat can be.
    floor = statistics.mean(
        sum(map(len, p.suffix_ids)) / (len(p.prefix_ids) + sum(map(len, p.suffix_ids))) for p in prompts
    )
    next(r for r in rows if r["mode"].startswith("(d)"))["computed_token_ratio_repeat_vs_first"] = floor
    return rows


def load_model(model_dir: str | None) -> tuple[LoadedModel, str]:
    """models/default when present, else a random Qwen3 of a small shape (the tiny-test tokenizer)."""
    if model_dir and Path(model_dir, "config.json").exists():
        loaded = load_checkpoint(model_dir, "cpu", "float32")
        c = loaded.model.config
        shape = f"{c.model_type}, {c.num_hidden_layers} layers, hidden {c.hidden_size}, vocab {c.vocab_size}"
        return loaded, f"checkpoint {model_dir} ({loaded.name}: {shape})"
    from tests.tiny_checkpoint import make_tiny_checkpoint

    out = make_tiny_checkpoint(Path(tempfile.mkdtemp()) / "bench-model", num_layers=4, hidden=256)
    return load_checkpoint(out, "cpu", "float32"), "random Qwen3 (4 layers, hidden 256, 4 heads / 2 KV heads)"


def prompt_for(model_dir: str | None, which: str) -> tuple[PromptConfig, str]:
    """The card's prompt config (what the service builds for this checkpoint), or this script's workload."""
    if which == "card" and model_dir and Path(model_dir, CARD_FILE).exists():
        config = ModelCard.load(model_dir).prompt
        return config, f"the checkpoint card's ({config.max_prefix_len}-token prefix budget)"
    return PROMPT, f"this benchmark's workload ({PROMPT.max_prefix_len}-token prefix budget, not the checkpoint's)"


def to_markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        "# Embedded engine, CPU",
        "",
        f"Command: `{meta['command']}`",
        "",
        f"Model: {meta['model']}; {meta['threads']} torch thread(s); {meta['machine']}; shared CPU (other jobs ran"
        " at the same time, so absolute numbers are noisy; the ratios within one k are what matter).",
        f"Prompts: MovieLens members, budgets {meta['prompt']}, prefix {meta['prefix_tokens']} tokens (mean),"
        " candidate suffix"
        f" {meta['suffix_tokens']:.0f} tokens (mean). One request in flight at a time.",
        f"Floor: FLOPs a request must compute (a first request its prefix and k suffixes, a repeat its k suffixes,"
        f" k LM-head rows) / {meta['matmul_gflops_fp32']:.0f} GFLOP/s, this run's fp32 2048x2048 matmul rate on"
        f" {meta['threads']} thread(s).",
        "",
        "| k | mode | requests | candidates/s | P50 ms | P99 ms | floor ms | P50 / floor | speed-up vs (a)"
        " | CPU ms/request | CPU-time speed-up vs (a) | cached share | max abs diff vs (a) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    base = {r["k"]: r["candidates_per_s"] for r in rows if r["mode"].startswith("(a) ")}
    base_cpu = {r["k"]: r["cpu_ms_per_request"] for r in rows if r["mode"].startswith("(a) ")}
    for r in rows:
        diff = f"{r['max_abs_diff_vs_a']:.1e}" if not r["mode"].startswith("(a) ") else "-"
        lines.append(
            f"| {r['k']} | {r['mode']} | {r['requests']} | {r['candidates_per_s']:.1f} | {r['p50_ms']:.1f} |"
            f" {r['p99_ms']:.1f} | {r['floor_ms']:.2f} | {r['p50_over_floor']:.0f}x |"
            f" {r['candidates_per_s'] / base[r['k']]:.1f}x | {r['cpu_ms_per_request']:.0f} |"
            f" {base_cpu[r['k']] / r['cpu_ms_per_request']:.1f}x | {r['cached_share']:.3f} | {diff} |"
        )
    return "\n".join([*lines, "", *goals(rows), "", NOTES]) + "\n"


NOTES = """## Notes

- (a) is run both ways; batch 1 is the stronger baseline on CPU (a right-padded batch of 8 needs an attention
  mask, which moves transformers' SDPA off the CPU flash kernel), so speed-ups are quoted against it.
- (b) still shares the prefix inside a request (computed once for all k candidates); only the cross-request radix
  cache is off. That is why (b) and (c) are close: (c) only adds the cached instruction preamble (~30 tokens).
- The repeat-latency goal (<= 0.1x the first request) cannot be met for k > 1 with these prompts: a repeat request
  still computes all k suffixes (each attending to the whole prefix) while a first request adds only
  the prefix tokens, so the computed-token ratio (in Goals) already exceeds 0.1 at k = 8 and k = 32. Profile of a
  k=32 repeat pass (torch.profiler, one thread, random 4-layer model): SDPA's flash kernel on the shared prefix
  ~55-70% of self time, the linear layers (aten::mm) ~20-40%. What would lower it: shorter suffixes (the question
  and "Answer:" are repeated in every candidate), a GPU, or fewer layers (compression). At k = 1 the floor is
  fixed per-pass cost (Python per layer, lm_head over the vocabulary, the worker-thread hand-off) and, on this
  shared machine, waiting for a core: compare the CPU-time column.
- (e) submits every member's repeat request at once (`asyncio.gather`); the scheduler packs them into shared
  forward passes (up to `max_batch_tokens` = 8192 tokens per step). Its latencies count from the common start, so
  P50/P99 include queueing; candidates/s uses the wall time of the whole burst. On one CPU thread batching mostly
  saves per-pass overhead, so (e) is close to (d) in throughput.
- The prompt budgets are the checkpoint card's (`slmrank.json`: what the service builds for this model) unless
  `--prompt bench` asks for this script's 1,536-token workload; label rates, where the card shows them, are
  smoothed `like` rates over all ratings (prompt text of the right shape: the run measures speed and score
  equality, not ranking quality).
- Scores: every engine mode agrees with (a) within 1e-5 on the label log-probs (fp32), column "max abs diff".
"""


def goals(rows: list[dict[str, Any]]) -> list[str]:
    """The issue's goals, checked against this run."""
    by = {(r["k"], r["mode"][:3]): r for r in rows}
    a, c, d = by[(32, "(a)")], by[(32, "(c)")], by[(32, "(d)")]
    speed_c, speed_d = c["candidates_per_s"] / a["candidates_per_s"], d["candidates_per_s"] / a["candidates_per_s"]
    cpu_c = a["cpu_ms_per_request"] / c["cpu_ms_per_request"]
    cpu_d = a["cpu_ms_per_request"] / d["cpu_ms_per_request"]
    out = [
        "## Goals (k = 32, against the stronger baseline (a), batch 1; wall time, then CPU time)",
        "",
        f"- (c) first request >= 10x (a): **{speed_c:.1f}x** ({'met' if speed_c >= 10 else 'missed'});"
        f" CPU time {cpu_c:.1f}x",
        f"- (d) repeat member >= 20x (a): **{speed_d:.1f}x** ({'met' if speed_d >= 20 else 'missed'});"
        f" CPU time {cpu_d:.1f}x",
        "- repeat request latency <= 0.1x the first (P50 (d) / P50 (c)), with the computed-token ratio that bounds"
        " it (suffix tokens / (prefix + suffix tokens)):",
    ]
    for k in sorted({r["k"] for r in rows}):
        ratio = by[(k, "(d)")]["p50_ms"] / by[(k, "(c)")]["p50_ms"]
        floor = by[(k, "(d)")]["computed_token_ratio_repeat_vs_first"]
        verdict = "met" if ratio <= 0.1 else "missed"
        out.append(f"  - k = {k}: **{ratio:.2f}x** ({verdict}); token ratio {floor:.2f}")
    return out


async def main(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    loaded, model_text = load_model(None if args.random_model else args.model)
    prompt_config, prompt_text = prompt_for(None if args.random_model else args.model, args.prompt)
    builder = PromptBuilder(loaded.tokenizer, prompt_config)
    label_ids = resolve_label_tokens(loaded.tokenizer, TASKS["like"], loaded.vocab_size).ids
    engines = {
        "cache": EmbeddedEngine(loaded, EngineConfig()),
        "nocache": EmbeddedEngine(loaded, EngineConfig(enable_prefix_cache=False)),
    }
    for engine in engines.values():
        await engine.start()
    rate = matmul_rate(torch.device("cpu"), torch.float32, 2048)
    rng = random.Random(args.seed)
    warm = make_requests(builder, 1, 4, rng)[0]
    plain_scores(loaded, warm, label_ids)
    rows, all_prompts = [], []
    for k, num_members in ((1, args.members), (8, args.members), (32, max(2, args.members // 2))):
        prompts = make_requests(builder, num_members, k, rng)
        all_prompts += prompts
        rows += await bench_k(loaded, engines, prompts, label_ids, k, rate)
        print(f"k={k} done", file=sys.stderr, flush=True)
    for engine in engines.values():
        await engine.close()
    meta = {
        "command": " ".join(["python", *sys.argv]),
        "model": model_text,
        "threads": args.threads,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "prompt": prompt_text,
        "matmul_gflops_fp32": rate / 1e9,
        "prefix_tokens": round(statistics.mean(len(p.prefix_ids) for p in all_prompts)),
        "suffix_tokens": statistics.mean(len(s) for p in all_prompts for s in p.suffix_ids),
    }
    markdown = to_markdown(rows, meta)
    print(markdown)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.md").write_text(markdown)
    (RESULTS / f"{args.name}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/default", help="checkpoint dir (random Qwen3 if missing)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the machine is shared)")
    parser.add_argument("--members", type=int, default=6, help="members per k (k=32 uses half)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--random-model", action="store_true", help="use the random Qwen3 even if --model exists")
    parser.add_argument(
        "--prompt", choices=("card", "bench"), default="card", help="the checkpoint card's prompt budgets, or 1,536"
    )
    parser.add_argument("--name", default="engine-cpu", help="results file stem under bench/results/")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
