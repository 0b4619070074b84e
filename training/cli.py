"""`slmrank train ...`, `slmrank evaluate` and `slmrank data ...`: each registered by the package that owns it."""

from __future__ import annotations

import argparse
from pathlib import Path

from training.data.data_cli import register_data
from training.evaluation.evaluate_cli import register_evaluate
from training.recipes.train_cli import register_train, run_pipeline

# The compression recipe still reads the raw MovieLens folder.
DEFAULT_DATA = "data/movielens-latest-small"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `train` (with its stages), `evaluate` and `data` to the slmrank CLI."""
    train = subparsers.add_parser(
        "train",
        help="train the tokenizer, teacher and students on a dataset folder (resumable)",
        description="Training recipes. Every stage writes into --out/<stage>/ and a done.json when finished; "
        "re-running skips finished stages and resumes an interrupted one from its last checkpoint.",
    )
    stages = train.add_subparsers(dest="stage", metavar="STAGE", required=True)
    pipe = register_train(stages)
    pipe.add_argument(
        "--compress",
        action="store_true",
        help="then prune (one-shot, gradual, heads) + KD, quantize (FP8/INT8/W4A16) and evaluate every stage",
    )
    pipe.set_defaults(handler=_run_pipeline)
    _register_compress(stages)
    register_evaluate(subparsers)
    register_data(subparsers)


def _run_pipeline(args: argparse.Namespace) -> int:
    from training.cli_errors import user_errors

    status = user_errors(run_pipeline)(args)
    if status == 0 and args.compress:
        out = args.out or Path("runs") / args.config
        _compress(out, args.config, args.data, args.report_dir or out / "report")
    return status


def _register_compress(stages: argparse._SubParsersAction) -> None:
    compress = stages.add_parser(
        "compress",
        help="prune + KD, quantize and evaluate a finished pipeline run (the paper's Tables 1-4 and 8)",
        description="Runs on --out (a `train pipeline` run with teacher/ and student-kd/); resumable: finished "
        "stages under <out>/compression/ are skipped. Writes <report-dir>/compression-<config>.{md,json,png}.",
    )
    compress.add_argument("--out", type=Path, required=True, help="the pipeline run directory")
    compress.add_argument("--config", default="demo", help="smoke or demo")
    compress.add_argument("--data", type=Path, default=Path(DEFAULT_DATA), help="MovieLens ml-latest-small folder")
    compress.add_argument("--report-dir", type=Path, default=None, help="report folder (default <out>/report)")
    compress.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    compress.set_defaults(handler=_run_compress)


def _run_compress(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(args.threads)
    _compress(args.out, args.config, args.data, args.report_dir or args.out / "report")
    return 0


def _compress(run_dir: Path, config_name: str, data_dir: Path, report_dir: Path) -> None:
    """Prune + KD, quantize, evaluate; the report is rewritten after every stage."""
    from training.compression_pipeline import get_config, run_compression_pipeline

    prefix = report_dir / f"compression-{config_name}"
    run_compression_pipeline(run_dir, get_config(config_name), data_dir=data_dir, report_prefix=prefix)
    print(Path(f"{prefix}.md").read_text())
