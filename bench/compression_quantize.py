"""Quantized exports vs the unquantized model: checkpoint size, AUC, score and distribution drift.

Each scheme is quantized, exported as a compressed-tensors checkpoint, loaded back through
ranking.quantized_linear (W8A8 activations quantized per token, as the kernels do) and scored on held-out
MovieLens ranking prompts: score = log p(positive label) − log p(negative label) after the prompt. Reported
per scheme: size, AUC and its delta vs the unquantized model (the paper's Table 8 shape), mean |Δ score|
and mean KL(dense ‖ quantized) of the label-position distribution. RTN and no-SmoothQuant rows are the
ablations GPTQ and SmoothQuant are measured against. Writes bench/results/compression-quantize.{md,json}.

    .venv/bin/python bench/compression_quantize.py [--model models/default] [--num-eval 256]

Without --model the model is random, so its AUC is chance and only the deltas and drift mean anything.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from compression_layerwise import load_model, movielens_examples, movielens_prompts, random_model_and_tokenizer

from compression.export import checkpoint_bytes, export_compressed
from compression.quantize import QuantizeConfig, quantize_model
from ranking.labels import resolve_all
from ranking.quantized_linear import load_quantized_model
from training.data.movielens_tasks import movielens_tasks

TASKS = movielens_tasks()

RESULTS = Path("bench/results")
VARIANTS = {
    "fp8_dynamic": dict(scheme="fp8_dynamic"),
    "w8a8_int8 (SmoothQuant + GPTQ)": dict(scheme="w8a8_int8"),
    "w8a8_int8 (RTN, no SmoothQuant)": dict(scheme="w8a8_int8", use_gptq=False, smoothing_strength=0.0),
    "w4a16 (GPTQ)": dict(scheme="w4a16"),
    "w4a16 (RTN)": dict(scheme="w4a16", use_gptq=False),
}


def auc(scores: list[float], labels: list[int]) -> float:
    """Mann-Whitney AUC with ties counted half."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def label_logprobs(
    model: Any, examples: list[tuple[list[int], str, int]], label_ids: dict[str, tuple[int, int]]
) -> tuple[list[float], torch.Tensor]:
    """Scores (pos − neg log-prob) and the label-position log-softmax rows [num, vocab]."""
    scores, rows = [], []
    with torch.no_grad():
        for ids, task, _ in examples:
            logprobs = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0, -1].float(), dim=-1)
            pos, neg = label_ids[task]
            scores.append(float(logprobs[pos] - logprobs[neg]))
            rows.append(logprobs)
    return scores, torch.stack(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="checkpoint directory (default: a random Qwen3)")
    parser.add_argument("--num-eval", type=int, default=128)
    parser.add_argument("--num-calibration", type=int, default=32)
    parser.add_argument("--max-len", type=int, default=384)
    parser.add_argument("--group-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dense, tokenizer = load_model(args.model) if args.model else random_model_and_tokenizer(args.seed)
    label_ids = {k: v.ids for k, v in resolve_all(tokenizer, TASKS.values(), dense.config.vocab_size).items()}
    examples = movielens_examples(tokenizer, args.num_eval, args.seed + 20, args.max_len)
    calibration = movielens_prompts(tokenizer, args.num_calibration, args.seed + 10, args.max_len)
    labels = [y for _, _, y in examples]
    base_scores, base_rows = label_logprobs(dense, examples, label_ids)
    base_auc = auc(base_scores, labels)
    base_std = float(torch.tensor(base_scores).std())
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        dense.save_pretrained(Path(tmp) / "dense")
        rows.append(
            {
                "variant": "unquantized",
                "bytes": checkpoint_bytes(Path(tmp) / "dense"),
                "auc": base_auc,
                "auc_delta": 0.0,
                "mean_abs_score_delta": 0.0,
                "mean_kl": 0.0,
            }
        )
        for name, kwargs in VARIANTS.items():
            model = copy.deepcopy(dense)
            config = QuantizeConfig(group_size=args.group_size, max_seq_len=args.max_len, **kwargs)
            layers = quantize_model(model, calibration, config)
            out = export_compressed(model, layers, config.to_scheme(), Path(tmp) / f"q{len(rows)}")
            scores, q_rows = label_logprobs(load_quantized_model(out), examples, label_ids)
            kl = (base_rows.exp() * (base_rows - q_rows)).sum(dim=-1).mean()
            rows.append(
                {
                    "variant": name,
                    "bytes": checkpoint_bytes(out),
                    "auc": auc(scores, labels),
                    "auc_delta": auc(scores, labels) - base_auc,
                    "mean_abs_score_delta": sum(abs(a - b) for a, b in zip(scores, base_scores, strict=True))
                    / len(scores),
                    "mean_kl": float(kl),
                }
            )
            print(f"  {name} done", flush=True)
    lines = [
        "| variant | size (MB) | AUC | ΔAUC (pts) | mean abs Δ score | Δ score / score std | mean KL |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['bytes'] / 1e6:.2f} | {r['auc']:.4f} | {100 * r['auc_delta']:+.3f} "
            f"| {r['mean_abs_score_delta']:.4f} | {r['mean_abs_score_delta'] / base_std:.3f} | {r['mean_kl']:.2e} |"
        )
    header = (
        f"# Compression: quantized exports vs unquantized\n\n"
        f"Model: {args.model or 'random Qwen3 (hidden 256, MLP 512, 8 heads / 4 KV, 4 layers; AUC is chance)'}; "
        f"{args.num_eval} held-out MovieLens prompts ({sum(labels)} positive), {args.num_calibration} in-domain "
        f"calibration prompts, W4 group size {args.group_size}; unquantized score std {base_std:.4f}. "
        f"Sizes include the unquantized embeddings / lm_head. Command: `.venv/bin/python bench/compression_quantize.py"
        + (f" --model {args.model}" if args.model else "")
        + f"`. Host: {platform.machine()}, "
        f"{args.threads} thread(s).\n\n"
    )
    text = header + "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "compression-quantize.md").write_text(text)
    (RESULTS / "compression-quantize.json").write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
