"""Whole-model one-shot structured pruning: output drift of OSSCAR vs magnitude vs Wanda (no retraining).

Each variant prunes the same model (10/20/30/40% of MLP neurons, then 50% of query heads with 30% MLP)
with in-domain calibration, saves it, reloads it with plain transformers, and scores held-out MovieLens
ranking prompts. Reported: parameters, checkpoint size, mean KL(dense ‖ pruned) of the label-position
distribution, mean |Δ score| (score = log p(pos) − log p(neg)) and AUC (chance on a random model).
Writes bench/results/compression-prune.{md,json}.

    .venv/bin/python bench/compression_prune.py [--model models/default] [--num-eval 128]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from compression_layerwise import load_model, movielens_examples, movielens_prompts, random_model_and_tokenizer
from compression_quantize import auc, label_logprobs

from compression.export import checkpoint_bytes
from compression.osscar import OsscarConfig
from compression.structured_prune import PruneConfig, prune_model
from ranking.labels import resolve_all
from training.data.movielens_tasks import movielens_tasks

TASKS = movielens_tasks()

RESULTS = Path("bench/results")
CASES = [(0.1, 0.0), (0.2, 0.0), (0.3, 0.0), (0.4, 0.0), (0.3, 0.5)]
METHODS = [
    ("osscar", True, False),
    ("osscar (sequential)", True, True),
    ("magnitude", False, False),
    ("magnitude+refit", True, False),
    ("wanda", False, False),
    ("wanda+refit", True, False),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="checkpoint directory (default: a random Qwen3)")
    parser.add_argument("--num-eval", type=int, default=128)
    parser.add_argument("--num-calibration", type=int, default=64)
    parser.add_argument("--max-len", type=int, default=384)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from transformers import AutoModelForCausalLM

    dense, tokenizer = load_model(args.model) if args.model else random_model_and_tokenizer(args.seed)
    label_ids = {k: v.ids for k, v in resolve_all(tokenizer, TASKS.values(), dense.config.vocab_size).items()}
    examples = movielens_examples(tokenizer, args.num_eval, args.seed + 20, args.max_len)
    calibration = movielens_prompts(tokenizer, args.num_calibration, args.seed + 10, args.max_len)
    labels = [y for _, _, y in examples]
    base_scores, base_rows = label_logprobs(dense, examples, label_ids)
    rows: list[dict[str, Any]] = []
    osscar = OsscarConfig(num_greedy_steps=32, max_swap_rounds=5, swap_candidates=4)
    with tempfile.TemporaryDirectory() as tmp:
        dense.save_pretrained(Path(tmp) / "dense")
        dense_bytes = checkpoint_bytes(Path(tmp) / "dense")
        for mlp, heads in CASES:
            for name, refit, sequential in METHODS:
                model = copy.deepcopy(dense)
                config = PruneConfig(
                    mlp_sparsity=mlp,
                    head_sparsity=heads,
                    method=name.split(" ")[0].split("+")[0],
                    refit=refit,
                    sequential=sequential,
                    max_seq_len=args.max_len,
                    osscar=osscar,
                )
                start = time.perf_counter()
                prune_model(model, calibration, config)
                seconds = time.perf_counter() - start
                out = Path(tmp) / "pruned"
                model.save_pretrained(out)
                loaded = AutoModelForCausalLM.from_pretrained(out, local_files_only=True).eval()
                scores, q_rows = label_logprobs(loaded, examples, label_ids)
                kl = float((base_rows.exp() * (base_rows - q_rows)).sum(dim=-1).mean())
                rows.append(
                    {
                        "mlp_sparsity": mlp,
                        "head_sparsity": heads,
                        "method": name,
                        "params": sum(p.numel() for p in loaded.parameters()),
                        "bytes": checkpoint_bytes(out),
                        "mean_kl": kl,
                        "auc": auc(scores, labels),
                        "mean_abs_score_delta": sum(abs(a - b) for a, b in zip(scores, base_scores, strict=True))
                        / len(scores),
                        "prune_seconds": seconds,
                    }
                )
                print(f"  MLP {mlp:.0%} heads {heads:.0%} {name}: KL {kl:.2e}", flush=True)
    lines = [
        "| pruned | method | params | size / dense | mean KL | mean abs Δ score | AUC | prune s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| MLP {r['mlp_sparsity']:.0%}, heads {r['head_sparsity']:.0%} | {r['method']} | {r['params']:,} "
            f"| {r['bytes'] / dense_bytes:.2f} | {r['mean_kl']:.2e} | {r['mean_abs_score_delta']:.4f} "
            f"| {r['auc']:.4f} | {r['prune_seconds']:.1f} |"
        )
    header = (
        f"# Compression: one-shot structured pruning, whole model (no retraining)\n\n"
        f"Model: {args.model or 'random Qwen3 (hidden 256, MLP 512, 8 heads / 4 KV, 4 layers; AUC is chance)'}; "
        f"unpruned AUC {auc(base_scores, labels):.4f}; {args.num_eval} held-out MovieLens prompts, "
        f"{args.num_calibration} in-domain calibration prompts. Command: `.venv/bin/python "
        f"bench/compression_prune.py"
        + (f" --model {args.model}" if args.model else "")
        + f"`. Host: {platform.machine()}, {args.threads} thread(s).\n\n"
    )
    text = header + "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "compression-prune.md").write_text(text)
    (RESULTS / "compression-prune.json").write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
