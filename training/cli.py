"""`slmrank train ...`, `slmrank evaluate` and `slmrank data ...`: each registered by the package that owns it."""

from __future__ import annotations

import argparse
from pathlib import Path

from training.data.data_cli import register_data
from training.evaluation.compare_cli import register_compare
from training.evaluation.evaluate_cli import register_evaluate
from training.recipes.compress_cli import add_tables_parser
from training.recipes.train_cli import register_train, run_pipeline


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `train` (with its stages), `evaluate`, `compare` and `data` to the slmrank CLI."""
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
        help="then `slmrank compress tables` on the run (the same-named compression config, else demo)",
    )
    pipe.set_defaults(handler=_run_pipeline)
    add_tables_parser(stages, "compress", alias_of="slmrank compress tables")
    register_evaluate(subparsers)
    register_compare(subparsers)
    register_data(subparsers)


def _run_pipeline(args: argparse.Namespace) -> int:
    from training.cli_errors import user_errors

    status = user_errors(run_pipeline)(args)
    if status == 0 and args.compress:
        from training.recipes.compress_cli import compress_run
        from training.recipes.compress_tables import config_for_pipeline

        out = args.out or Path("runs") / Path(args.config).stem
        compress_run(out, config_for_pipeline(args.config), args.data, args.report_dir or out / "report")
    return status
