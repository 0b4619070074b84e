"""The `slmrank compress` jobs that need training/: `recover` (prune + KD on your checkpoint and dataset),
`calibration` (your dataset rendered through the checkpoint card's template, as token ids for `--calibration`)
and `tables` (every prune/quantize experiment on a finished pipeline run). compression/ owns the group and its
`prune` / `quantize` jobs; these are added to it by slmrank/cli.py, since compression/ may not import training/.
`slmrank train compress` is kept as an alias of `compress tables`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from compression.cli import add_common, add_prune_options
from compression.compress_config import DEFAULTS

# `compress tables` on a run made from the raw MovieLens folder (a converted dataset folder works too).
DEFAULT_DATA = "data/movielens-latest-small"
TABLES_HELP = "prune + KD, quantize and evaluate a finished pipeline run (the paper's Tables 1-4 and 8)"


def register_compress_jobs(jobs: argparse._SubParsersAction) -> None:
    """Add `recover` and `tables` to `slmrank compress`."""
    recover = jobs.add_parser(
        "recover",
        help="prune, then recover by KD against the unpruned model, on your checkpoint and dataset",
        description="Prune --model (OSSCAR, in --rounds prune -> recover rounds) and train each pruned model "
        "against the unpruned one on --data (a dataset folder, docs/data.md) rendered through the "
        "checkpoint card's template; calibration uses the same in-domain prompts.",
    )
    add_common(recover)
    add_prune_options(recover)
    recover.add_argument("--data", type=Path, required=True, help="dataset folder (docs/data.md)")
    recover.add_argument("--rounds", type=int, default=1, help="gradual pruning: prune -> recover rounds")
    recover.add_argument("--recovery", default="kd", choices=("kd", "sft", "none"))
    recover.add_argument("--recovery-steps", type=int, default=200, help="training steps over all rounds")
    recover.set_defaults(handler=_user_errors(run_recover))
    calibration = jobs.add_parser(
        "calibration",
        help="write in-domain calibration prompts (your dataset through the card's template) as JSONL",
        description="Train-period prompts of --data (member prefix + one candidate), rendered with --model's "
        "card (tasks, template, budgets) and tokenizer, one token-id list per line: pass the file to "
        "`compress prune|quantize --calibration`.",
    )
    calibration.add_argument("--model", type=Path, required=True, help="checkpoint directory (its card and tokenizer)")
    calibration.add_argument("--data", type=Path, required=True, help="dataset folder (docs/data.md)")
    calibration.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    calibration.add_argument("--num-calibration", type=int, default=DEFAULTS.num_calibration)
    calibration.add_argument("--seed", type=int, default=DEFAULTS.seed)
    calibration.set_defaults(handler=_user_errors(run_calibration))
    add_tables_parser(jobs, "tables")


def add_tables_parser(group: argparse._SubParsersAction, name: str, alias_of: str | None = None) -> None:
    """`tables` (or the `train compress` alias): every compression experiment on a pipeline run."""
    help_text = TABLES_HELP if alias_of is None else f"alias of `{alias_of}`"
    tables = group.add_parser(
        name,
        help=help_text,
        description="Runs on --out (a `train pipeline` run with teacher/ and student-kd/); resumable: finished "
        "stages under <out>/compression/ are skipped. Writes <report-dir>/compression-<config>.{md,json,png}.",
    )
    tables.add_argument("--out", type=Path, required=True, help="the pipeline run directory")
    tables.add_argument("--config", default="demo", help="compression experiments: smoke or demo")
    tables.add_argument("--data", type=Path, default=Path(DEFAULT_DATA), help="dataset or MovieLens folder")
    tables.add_argument("--report-dir", type=Path, default=None, help="report folder (default <out>/report)")
    tables.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    tables.set_defaults(handler=_user_errors(run_tables))


def run_tables(args: argparse.Namespace) -> int:
    """Handler of `slmrank compress tables`."""
    import torch

    from training.recipes.compress_tables import get_config

    torch.set_num_threads(args.threads)
    compress_run(args.out, get_config(args.config), args.data, args.report_dir or args.out / "report")
    return 0


def compress_run(run_dir: Path, config: Any, data_dir: Path, report_dir: Path) -> None:
    """Prune + KD, quantize, evaluate with a CompressionConfig; the report is rewritten after every stage."""
    from training.recipes.compress_tables import run_compression_pipeline

    prefix = report_dir / f"compression-{config.name}"
    run_compression_pipeline(run_dir, config, data_dir=data_dir, report_prefix=prefix)
    print(Path(f"{prefix}.md").read_text())


def run_recover(args: argparse.Namespace) -> int:
    """Handler of `slmrank compress recover`."""
    from compression.cli import load_for_compression
    from training.recipes.compress_recovery import PruneRecipeConfig, prune_and_recover

    load_for_compression(args)  # the same up-front refusals (architecture, quantized input) and threads
    config = PruneRecipeConfig(
        mlp_sparsity=args.mlp_sparsity,
        head_sparsity=args.head_sparsity,
        num_steps=args.rounds,
        recovery=args.recovery,
        recovery_steps=args.recovery_steps,
        num_calibration=args.num_calibration,
        method=args.method,
        neuron_multiple=args.neuron_multiple,
        max_swap_rounds=args.swap_rounds,
        solver_device=args.device,
        dtype=args.dtype,
        seed=args.seed,
    )
    out = prune_and_recover(args.model, _examples(args), args.out, config)
    print(f"pruned and recovered ({args.recovery}, {args.recovery_steps} steps) -> {out}")
    return 0


def run_calibration(args: argparse.Namespace) -> int:
    """Handler of `slmrank compress calibration`."""
    import json

    from training.recipes.compress_recovery import calibration_sequences

    sequences = calibration_sequences(_examples(args), args.num_calibration, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(ids) + "\n" for ids in sequences))
    print(f"{len(sequences)} calibration prompts ({sum(map(len, sequences))} tokens) -> {args.out}")
    return 0


def _examples(args: argparse.Namespace):
    """The dataset's train-period groups rendered through the checkpoint card's tasks and prompt budgets."""
    from transformers import AutoTokenizer

    from ranking.card import ModelCard
    from training.data.dataset_reader import load_dataset
    from training.data.example_builder import ExampleBuilder
    from training.data.split import ChronologicalSplit, SplitConfig

    card = ModelCard.load(args.model)
    tokenizer = AutoTokenizer.from_pretrained(args.model, local_files_only=True)
    split = ChronologicalSplit(load_dataset(args.data), SplitConfig())
    return ExampleBuilder(split, tokenizer, card.prompt, tuple(card.task_names), group_size=8)


def _user_errors(handler):
    from training.cli_errors import user_errors

    return user_errors(handler)
