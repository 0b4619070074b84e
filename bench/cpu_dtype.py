"""Which dtype should the embedded engine default to on this CPU? Ranking quality and speed of a checkpoint scored
in float32 and in bfloat16 on the same test period: per task global AUC, per-member AUC and NDCG@10 of each, the
paired bootstrap interval of the AUC change, the largest score difference, and seconds per run.

    python bench/cpu_dtype.py --model models/default --data /tmp/ml   # after: slmrank data movielens --out /tmp/ml

Writes bench/results/cpu-dtype.{md,json}. The rule it informs (README, docs/engine.md): bf16 is the CPU default
only where the CPU multiplies bf16 natively and the AUC change's interval contains zero or stays inside the
model's own test interval.
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
from types import SimpleNamespace
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import torch
from compute_floor import DecoderShape, matmul_rate, random_decoder
from prefill_shapes import make_prompt

from ranking.card import ModelCard
from ranking.engine.embedded_engine import EmbeddedEngine, EngineConfig
from ranking.labels import resolve_all
from ranking.model_loader import LoadedModel, load_checkpoint
from ranking.scorer import ScoreBatch
from training.data.dataset_reader import load_dataset
from training.data.split import ChronologicalSplit
from training.evaluation.bootstrap import paired_auc_delta
from training.evaluation.evaluation_table import eval_groups
from training.evaluation.evaluator import TaskScores, collect, score_model

DTYPES = ("float32", "bfloat16")


def score(model_dir: Path, groups: dict[str, Any], dtype: str, path: str) -> tuple[dict[str, TaskScores], float]:
    """Every candidate's log-odds with the model loaded in `dtype`, and the wall seconds it took; `path` is the
    embedded engine (what /rank serves) or the training evaluator's packed forward."""
    loaded = load_checkpoint(model_dir, device="cpu", dtype=dtype)
    card = ModelCard.load(model_dir)
    labels = resolve_all(loaded.tokenizer, [card.task(t) for t in groups], loaded.vocab_size)
    started = time.perf_counter()
    if path == "engine":
        scores = asyncio.run(engine_scores(loaded, groups, labels))
    else:
        scores = {t: score_model(loaded.model, g, labels, loaded.tokenizer.pad_token_id) for t, g in groups.items()}
    return scores, time.perf_counter() - started


async def engine_scores(loaded: Any, groups: dict[str, Any], labels: dict[str, Any]) -> dict[str, TaskScores]:
    """Each group through the embedded engine: label log-probs of every candidate -> log-odds."""
    engine = EmbeddedEngine(loaded, EngineConfig())
    await engine.start()
    out = {}
    for task, task_groups in groups.items():
        odds = []
        for g in task_groups:
            result = await engine.score(ScoreBatch(g.prefix_ids, g.suffix_ids, labels[task].ids))
            odds += [pos - neg for pos, neg in result.label_logprobs]
        out[task] = collect(task_groups, odds)
    await engine.close()
    return out


async def width_latency(hidden: int, dtype: torch.dtype, prefix_len: int = 1024, k: int = 8) -> tuple[float, float]:
    """Median cold and hot engine latency (ms) of a random 2-layer Qwen3 of width `hidden` in `dtype`."""
    heads = max(2, hidden // 64)
    shape = DecoderShape(f"w{hidden}", hidden, 3 * hidden, 2, heads, max(1, heads // 2), 64, 4096)
    model = random_decoder(shape, torch.device("cpu"), dtype)
    loaded = LoadedModel(model, SimpleNamespace(bos_token_id=1), shape.name, 4096, torch.device("cpu"), dtype)
    engine = EmbeddedEngine(loaded, EngineConfig())
    await engine.start()
    gen, cold, hot = torch.Generator().manual_seed(0), [], []
    for _ in range(6):
        batch = make_prompt(gen, 4096, prefix_len, 40, k)
        for times in (cold, hot):
            started = time.perf_counter()
            await engine.score(batch)
            times.append(time.perf_counter() - started)
    await engine.close()
    return statistics.median(cold[1:]) * 1e3, statistics.median(hot[1:]) * 1e3  # the first is a warm-up


def main(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    split = ChronologicalSplit(load_dataset(args.data))
    tasks = [t.name for t in ModelCard.load(args.model).tasks]
    groups = eval_groups(split, args.model, tasks, "test")
    if args.max_groups:
        groups = {t: g[: args.max_groups] for t, g in groups.items()}
    runs = {d: score(args.model, groups, d, args.path) for d in DTYPES}
    ref, new = runs["float32"][0], runs["bfloat16"][0]
    delta = paired_auc_delta(ref, new, num_resamples=args.resamples)
    cpu = torch.device("cpu")
    widths = {
        f"{w} ({p}-token prefix, k = {k})": {d: asyncio.run(width_latency(w, getattr(torch, d), p, k)) for d in DTYPES}
        for p, k in ((1024, 8), (256, 20))  # a long member prefix; the shipped card's budget and a typical k
        for w in args.widths
    }
    result = {
        "command": " ".join(["python", *sys.argv]),
        "model": str(args.model),
        "path": args.path,
        "groups": {t: len(g) for t, g in groups.items()},
        "metrics": {d: {t: s.metrics() for t, s in runs[d][0].items()} for d in DTYPES},
        "seconds": {d: runs[d][1] for d in DTYPES},
        "max_abs_score_diff": max(float(np.abs(ref[t].scores - new[t].scores).max()) for t in tasks),
        "auc_delta_pct": {"value": delta.delta_pct, "low": delta.low_pct, "high": delta.high_pct},
        "width_latency_ms": widths,
        "matmul_gflops": {d: matmul_rate(cpu, getattr(torch, d), 2048) / 1e9 for d in DTYPES},
    }
    markdown = to_markdown(result)
    print(markdown)
    out = Path(args.out_dir)
    (out / f"{args.name}.md").write_text(markdown)
    (out / f"{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def to_markdown(r: dict[str, Any]) -> str:
    d = r["auc_delta_pct"]
    lines = [
        "# CPU dtype: float32 vs bfloat16",
        "",
        f"Command: `{r['command']}`",
        "",
        f"Model `{r['model']}`, test period, groups per task {r['groups']}, scored by the {r['path']} path."
        " Shared machine.",
        "",
        "| dtype | task | AUC | per-member AUC | NDCG@10 | seconds (all tasks) | matmul GFLOP/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for dtype, per_task in r["metrics"].items():
        for task, m in per_task.items():
            lines.append(
                f"| {dtype} | {task} | {m['auc']:.4f} | {m['member_auc']:.4f} | {m['ndcg@10']:.4f} |"
                f" {r['seconds'][dtype]:.1f} | {r['matmul_gflops'][dtype]:.0f} |"
            )
    lines += [
        "",
        f"bf16 vs fp32, mean AUC over tasks: **{d['value']:+.3f}%** (95% paired bootstrap over members"
        f" [{d['low']:+.3f}, {d['high']:+.3f}]); largest score (log-odds) difference {r['max_abs_score_diff']:.3f}.",
    ]
    lines += [
        "",
        "Engine latency by model width (random 2-layer Qwen3, 1,024-token prefix, k = 8, median of 5):",
        "",
        "| hidden | fp32 cold ms | bf16 cold ms | fp32 hot ms | bf16 hot ms | bf16 / fp32 cold | hot |",
        "|---|---|---|---|---|---|---|",
    ]
    for width, by in r["width_latency_ms"].items():
        (fc, fh), (bc, bh) = by["float32"], by["bfloat16"]
        lines.append(f"| {width} | {fc:.1f} | {bc:.1f} | {fh:.1f} | {bh:.1f} | {bc / fc:.2f} | {bh / fh:.2f} |")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("models/default"))
    parser.add_argument("--data", type=Path, required=True, help="dataset folder (docs/data.md)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--path", choices=("engine", "packed"), default="engine", help="scoring path")
    parser.add_argument("--max-groups", type=int, default=0, help="first N groups per task (0: all)")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--widths", type=lambda t: [int(v) for v in t.split(",") if v], default=[96, 256, 512, 1024])
    parser.add_argument("--name", default="cpu-dtype")
    parser.add_argument("--out-dir", default="bench/results")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main(parse_args())
