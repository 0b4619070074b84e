"""Layerwise reconstruction error of OSSCAR vs magnitude vs Wanda, and in-domain vs generic calibration.

For every decoder layer: the relative error ‖XB − XŴ‖² / ‖XB‖² of down_proj at 10/20/30/40% of MLP neurons
pruned and of o_proj at 50% of query heads pruned (one per KV group kept), where X are held-out in-domain
inputs (MovieLens ranking prompts not used for calibration). Selections are computed from the dense
model's Gram matrices of (a) N in-domain prompts, (b) N generic-text sequences of the same token count.
Prints Markdown tables and writes bench/results/compression-layerwise.{md,json}.

    .venv/bin/python bench/compression_layerwise.py [--model models/default] [--num-calibration 64]

Without --model, a random Qwen3 (GQA, explicit head_dim) and a BPE tokenizer trained on the spot are used:
that measures the algorithms, not a trained model's redundancy.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from compression.baselines import baseline_selection
from compression.calibration import ATTENTION_TARGET, MLP_TARGET, Calibration, CalibrationConfig, generic_text
from compression.layer_problem import LayerProblem, num_kept
from compression.osscar import Osscar, OsscarConfig
from compression.structured_prune import attention_keep_count, attention_problem, mlp_problem
from ranking.decoder_layout import layer_prefixes
from ranking.member import Interaction, Member
from ranking.prompt_builder import PromptBuilder, PromptConfig
from training.data.movielens_tasks import movielens_tasks

TASKS = movielens_tasks()

DATA = Path("data/movielens-latest-small")
RESULTS = Path("bench/results")
MLP_SPARSITIES = (0.1, 0.2, 0.3, 0.4)
HEAD_SPARSITY = 0.5
METHODS = ("osscar", "magnitude", "magnitude+refit", "wanda", "wanda+refit")
RATIO_METHODS = METHODS[1:]


def movielens_examples(tokenizer: Any, num: int, seed: int, max_len: int) -> list[tuple[list[int], str, int]]:
    """(full ranking prompt ids, task name, label) for random MovieLens users and one held-back movie each.

    The prompt is member prefix (up to 40 rated movies before a random cut) + the next movie they rated as
    the candidate; the label is 1 if that rating clears the task's bar (like: >= 4, love: >= 4.5).
    """
    with (DATA / "movies.csv").open(newline="", encoding="utf-8") as f:
        movies = {row["movieId"]: f"{row['title']} | {row['genres']}" for row in csv.DictReader(f)}
    ratings: dict[str, list[tuple[int, str, float]]] = {}
    with (DATA / "ratings.csv").open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            ratings.setdefault(row["userId"], []).append((int(row["timestamp"]), row["movieId"], float(row["rating"])))
    rng = random.Random(seed)
    builder = PromptBuilder(tokenizer, PromptConfig(max_prefix_len=max_len - 64, max_candidate_len=48))
    users = sorted(ratings)
    examples = []
    for _ in range(num):
        events = sorted(ratings[rng.choice(users)])
        cut = rng.randrange(1, len(events))
        history = tuple(Interaction(movies[m], f"rated {r:.1f} stars", t) for t, m, r in events[max(0, cut - 40) : cut])
        task = TASKS[rng.choice(sorted(TASKS))]
        prompt = builder.build(Member(id="u", history=history), [movies[events[cut][1]]], task)
        bar = 4.0 if task.name == "like" else 4.5
        examples.append((prompt.full_prompt(0), task.name, int(events[cut][2] >= bar)))
    return examples


def movielens_prompts(tokenizer: Any, num: int, seed: int, max_len: int) -> list[list[int]]:
    """Just the prompt ids of `movielens_examples`."""
    return [ids for ids, _, _ in movielens_examples(tokenizer, num, seed, max_len)]


def random_model_and_tokenizer(seed: int) -> tuple[Any, Any]:
    """A byte-level BPE fitted to MovieLens + generic text, and a random GQA Qwen3 sized to it."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    with (DATA / "movies.csv").open(newline="", encoding="utf-8") as f:
        corpus = [f"{row['title']} | {row['genres']}" for row in csv.DictReader(f)]
    corpus += generic_text(200, seed=seed + 1) + [t.instruction + " " + t.question for t in TASKS.values()]
    # Enough answers that every label (" Yes", " No", " True", " False") becomes a single BPE token.
    corpus += [f"Answer:{t.positive_label} Answer:{t.negative_label}" for t in TASKS.values()] * 500
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=2048, special_tokens=["<bos>"]))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<bos>")
    torch.manual_seed(seed)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=256,
        intermediate_size=512,
        num_hidden_layers=4,
        num_attention_heads=8,
        num_key_value_heads=4,
        head_dim=32,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
    )
    return Qwen3ForCausalLM(config).eval(), tokenizer


def load_model(path: str) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(path, local_files_only=True)


def selections(problem: LayerProblem, keep: int, osscar: Osscar) -> dict[str, Any]:
    """Every method's selection of `keep` groups on one problem, with its wall time."""
    out = {}
    for method in METHODS:
        start = time.perf_counter()
        if method == "osscar":
            sel = osscar.select(problem, keep)
        else:
            sel = baseline_selection(problem, keep, method.split("+")[0], refit=method.endswith("+refit"))
        out[method] = (sel, time.perf_counter() - start)
    return out


def evaluate(
    model: Any, calibrations: dict[str, Calibration], held_out: Calibration, osscar: Osscar
) -> list[dict[str, Any]]:
    """One row per (calibration set, target, sparsity, layer, method): calibration and held-out errors."""
    rows = []
    for cal_name, calibration in calibrations.items():
        for i, (prefix, layer) in enumerate(layer_prefixes(model)):
            cases = [
                (
                    "mlp",
                    s,
                    mlp_problem(layer.mlp, calibration.gram(prefix + MLP_TARGET), 0.01),
                    mlp_problem(layer.mlp, held_out.gram(prefix + MLP_TARGET), 0.01),
                )
                for s in MLP_SPARSITIES
            ]
            gram_a = calibration.gram(prefix + ATTENTION_TARGET)
            gram_h = held_out.gram(prefix + ATTENTION_TARGET)
            cases.append(
                (
                    "heads",
                    HEAD_SPARSITY,
                    attention_problem(layer.self_attn, gram_a, "per_kv_group", 0.01),
                    attention_problem(layer.self_attn, gram_h, "per_kv_group", 0.01),
                )
            )
            for kind, sparsity, problem, test in cases:
                keep = (
                    num_kept(problem.layout.num_groups, sparsity)
                    if kind == "mlp"
                    else attention_keep_count(layer.self_attn, sparsity, "per_kv_group")
                )
                for method, (sel, seconds) in selections(problem, keep, osscar).items():
                    rows.append(
                        {
                            "calibration": cal_name,
                            "kind": kind,
                            "sparsity": sparsity,
                            "layer": i,
                            "method": method,
                            "calibration_error": problem.relative_error(sel.weight),
                            "held_out_error": test.relative_error(sel.weight),
                            "seconds": seconds,
                        }
                    )
            print(f"  {cal_name}: layer {i} done", flush=True)
    return rows


def mean(rows: list[dict[str, Any]], key: str, **match: Any) -> float:
    values = [r[key] for r in rows if all(r[k] == v for k, v in match.items())]
    return sum(values) / len(values)


def tables(rows: list[dict[str, Any]], cal_main: str, cal_names: list[str]) -> str:
    """Markdown: method comparison (in-domain calibration) and calibration-set comparison (OSSCAR)."""
    cases = [("mlp", s) for s in MLP_SPARSITIES] + [("heads", HEAD_SPARSITY)]
    label = {("mlp", s): f"MLP {int(s * 100)}%" for s in MLP_SPARSITIES} | {("heads", HEAD_SPARSITY): "heads 50%"}
    lines = [
        "### Held-out relative error (mean over layers), calibration: " + cal_main,
        "",
        "| pruned | " + " | ".join(METHODS) + " | " + " | ".join(f"{m} / OSSCAR" for m in RATIO_METHODS) + " |",
        "|---|" + "---|" * (len(METHODS) + len(RATIO_METHODS)),
    ]
    for kind, s in cases:
        errs = {m: mean(rows, "held_out_error", calibration=cal_main, kind=kind, sparsity=s, method=m) for m in METHODS}
        cells = " | ".join(f"{errs[m]:.4f}" for m in METHODS)
        ratios = " | ".join(f"{errs[m] / errs['osscar']:.2f}x" for m in RATIO_METHODS)
        lines.append(f"| {label[(kind, s)]} | {cells} | {ratios} |")
    lines += [
        "",
        "### Calibration-set error (what each method optimises), calibration: " + cal_main,
        "",
        "| pruned | " + " | ".join(METHODS) + " |",
        "|---|" + "---|" * len(METHODS),
    ]
    for kind, s in cases:
        cells = " | ".join(
            f"{mean(rows, 'calibration_error', calibration=cal_main, kind=kind, sparsity=s, method=m):.4f}"
            for m in METHODS
        )
        lines.append(f"| {label[(kind, s)]} | {cells} |")
    lines += [
        "",
        "### OSSCAR held-out in-domain error by calibration set",
        "",
        "| pruned | " + " | ".join(cal_names) + " |",
        "|---|" + "---|" * len(cal_names),
    ]
    for kind, s in cases:
        cells = " | ".join(
            f"{mean(rows, 'held_out_error', calibration=c, kind=kind, sparsity=s, method='osscar'):.4f}"
            for c in cal_names
        )
        lines.append(f"| {label[(kind, s)]} | {cells} |")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], cal_main: str, path: Path) -> None:
    """Held-out error vs MLP sparsity per method (left) and per calibration set for OSSCAR (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    xs = [int(s * 100) for s in MLP_SPARSITIES]
    for method in METHODS:
        ys = [
            mean(rows, "held_out_error", calibration=cal_main, kind="mlp", sparsity=s, method=method)
            for s in MLP_SPARSITIES
        ]
        left.plot(xs, ys, marker="o", label=method)
    left.set(
        xlabel="MLP neurons pruned (%)",
        ylabel="held-out relative error",
        yscale="log",
        title=f"down_proj reconstruction ({cal_main})",
    )
    left.legend(fontsize=8)
    for cal in sorted({r["calibration"] for r in rows}):
        ys = [
            mean(rows, "held_out_error", calibration=cal, kind="mlp", sparsity=s, method="osscar")
            for s in MLP_SPARSITIES
        ]
        right.plot(xs, ys, marker="o", label=cal)
    right.set(
        xlabel="MLP neurons pruned (%)",
        ylabel="held-out in-domain relative error",
        yscale="log",
        title="OSSCAR by calibration set",
    )
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="checkpoint directory (default: a random Qwen3)")
    parser.add_argument("--num-calibration", type=int, default=64, help="N calibration prompts per set")
    parser.add_argument("--num-held-out", type=int, default=64)
    parser.add_argument("--max-len", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--swap-rounds", type=int, default=5, help="OSSCAR local-search rounds per start")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, tokenizer = load_model(args.model) if args.model else random_model_and_tokenizer(args.seed)
    n = args.num_calibration
    in_domain = movielens_prompts(tokenizer, n, args.seed + 10, args.max_len)
    held = movielens_prompts(tokenizer, args.num_held_out, args.seed + 20, args.max_len)
    num_tokens = sum(len(p) for p in in_domain)
    generic = generic_text(4 * n, seed=args.seed + 30, sentences_per_text=40)
    generic_ids = [tokenizer.encode(t, add_special_tokens=False)[: args.max_len] for t in generic]
    generic_n, total = [], 0
    for ids in generic_ids:  # generic sequences up to the in-domain token count
        if total >= num_tokens:
            break
        generic_n.append(ids)
        total += len(ids)
    cal_config = CalibrationConfig(targets=(MLP_TARGET, ATTENTION_TARGET), max_seq_len=args.max_len)
    names = {
        f"in-domain N={n}": in_domain,
        f"generic N={len(generic_n)} (same tokens)": generic_n,
        f"generic N={len(generic_ids)} (4x text)": generic_ids,
    }
    calibrations = {k: Calibration.capture(model, v, cal_config) for k, v in names.items()}
    held_out = Calibration.capture(model, held, cal_config)
    osscar = Osscar(OsscarConfig(num_greedy_steps=32, max_swap_rounds=args.swap_rounds, swap_candidates=4))
    rows = evaluate(model, calibrations, held_out, osscar)
    cal_names = list(calibrations)
    body = tables(rows, cal_names[0], cal_names)
    header = (
        f"# Compression: layerwise reconstruction (OSSCAR vs baselines)\n\n"
        f"Model: {args.model or 'random Qwen3 (hidden 256, MLP 512, 8 heads / 4 KV, head_dim 32, 4 layers)'}; "
        f"calibration tokens: "
        + ", ".join(f"{k}: {c.num_tokens}" for k, c in calibrations.items())
        + f"; held-out in-domain tokens: {held_out.num_tokens}. Relative error = ‖XB − XŴ‖²/‖XB‖², "
        f"mean over layers. Command: `.venv/bin/python bench/compression_layerwise.py"
        + (f" --model {args.model}" if args.model else "")
        + f" --num-calibration {n}`. "
        f"OSSCAR: 32 greedy steps, {args.swap_rounds} swap rounds x 4 candidates, warm starts from Wanda "
        f"and magnitude. Host: {platform.machine()}, {args.threads} threads.\n\n"
    )
    text = header + body + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "compression-layerwise.md").write_text(text)
    (RESULTS / "compression-layerwise.json").write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))
    plot(rows, cal_names[0], RESULTS / "compression-layerwise.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
