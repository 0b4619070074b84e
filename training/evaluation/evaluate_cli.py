"""`slmrank evaluate --model DIR [--model DIR2 ...] --data DIR [--split test|val] [--json PATH]`."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from training.checkpoint_writer import write_json

METRICS = ("auc", "member_auc", "ndcg@10", "log_loss", "ece")


def register_evaluate(subparsers: argparse._SubParsersAction) -> None:
    ev = subparsers.add_parser(
        "evaluate",
        help="per task: AUC, per-member AUC, NDCG@10, log loss, ECE of checkpoints and non-LLM baselines",
        description="Scores the test (or val) period of a dataset folder (the last 20%% of each member's "
        "interactions) with each --model checkpoint (its own tokenizer and slmrank.json budgets; dense, pruned "
        "or quantized) and the popularity, user+item bias and matrix factorisation baselines fitted on the train "
        "period (the factorisation's rank and penalty chosen on the val period), the user+item rates, the "
        "user+item bias model and that model plus similar items, each as of each member's cutoff (nothing from "
        "at or after it, like a prompt), and says "
        "how many history items each model's prompts show. Each result is "
        "kept as soon as it is finished; a model that fails is reported and the others still run.",
    )
    ev.add_argument("--model", type=Path, action="append", required=True, help="checkpoint directory (repeatable)")
    ev.add_argument("--data", type=Path, required=True, help="dataset folder (docs/data.md)")
    ev.add_argument("--split", choices=("test", "val"), default="test", help="which period to score")
    ev.add_argument("--tasks", default=None, help="comma-separated tasks (default: every task of the dataset)")
    ev.add_argument(
        "--json", type=Path, default=None, help="write the table here as JSON (per model); scores in <stem>-scores/"
    )
    ev.add_argument(
        "--report",
        type=Path,
        default=None,
        help="with --json: also write a Markdown table of every row against the strongest baseline, with paired "
        "95%% bootstrap intervals of the differences",
    )
    ev.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ev.set_defaults(handler=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    import torch

    from training.cli_errors import user_errors

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    return user_errors(_evaluate)(args)


def _evaluate(args: argparse.Namespace) -> int:
    from training.data.dataset_reader import load_dataset
    from training.data.split import ChronologicalSplit
    from training.evaluation.baseline_report import write_baseline_report
    from training.evaluation.evaluation_table import evaluate_table
    from training.evaluation.history_shown import history_shown
    from training.setup_error import SetupError

    if args.report is not None and args.json is None:
        raise SetupError("--report needs --json (the saved scores it pairs)")
    data = load_dataset(args.data)
    tasks = [t.strip() for t in args.tasks.split(",")] if args.tasks else [t.name for t in data.spec.tasks]
    for task in tasks:
        data.spec.task(task)
    for model_dir in args.model:
        if not (model_dir / "config.json").is_file():
            raise FileNotFoundError(f"--model {model_dir}: no config.json (not a checkpoint directory)")
    models = {str(m): m for m in args.model}
    done: dict[str, Any] = {}

    def progress(name: str, result: dict[str, Any]) -> None:
        done[name] = result
        print(row_lines(name, result, tasks), flush=True)
        if args.json is not None:
            write_json(args.json, {"data": str(args.data), "split": args.split, "tasks": tasks, "models": done})

    print(f"{'model':40s} {'task':10s} " + " ".join(f"{m:>10s}" for m in METRICS))
    split = ChronologicalSplit(data)
    if args.json is not None:
        # Every candidate's score beside the table, for paired intervals between its rows.
        scores_dir = args.json.parent / f"{args.json.stem}-scores"
        table = evaluate_table(split, models, tasks, scores_dir, args.split, progress=progress, use_cache=False)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            table = evaluate_table(split, models, tasks, Path(scratch), args.split, progress=progress, use_cache=False)
    failed = [n for n, r in table["models"].items() if "error" in r]
    shown = {n: history_shown(split, models[n], args.split) for n in models if n not in failed}
    for name, figures in shown.items():
        print(
            f"{name}: {args.split} prompts show a median of {figures['median_shown']} history items "
            f"(min {figures['min_shown']}, max {figures['max_shown']}; median available "
            f"{figures['median_available']}) in a {figures['max_prefix_len']}-token prefix"
        )
    if args.json is not None:
        write_json(args.json, {**json.loads(args.json.read_text()), "history_shown": shown})
    if args.report is not None:
        command = "slmrank " + " ".join(sys.argv[1:])
        print(f"report: {write_baseline_report(json.loads(args.json.read_text()), command, args.report)}")
    return 1 if failed else 0


def row_lines(name: str, result: dict[str, Any], tasks: list[str]) -> str:
    """One line per task of one model (or its error)."""
    if "error" in result:
        return f"{name:40s} error: {result['error']}"
    lines = []
    for task in tasks:
        m = result["tasks"][task]
        cells = " ".join(f"{m[k]:10.4f}" if m[k] is not None else f"{'–':>10s}" for k in METRICS)
        lines.append(f"{name[-40:]:40s} {task:10s} {cells}")
    return "\n".join(lines)
