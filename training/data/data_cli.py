"""`slmrank data validate DIR` and `slmrank data movielens --out DIR`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training.data.dataset_reader import DataError


def register_data(subparsers: argparse._SubParsersAction) -> None:
    """Add `data` with `validate` and `movielens`."""
    data = subparsers.add_parser(
        "data",
        help="check a dataset folder, or write the shipped MovieLens in the dataset format",
        description="A dataset is a folder with dataset.json, items.jsonl, interactions.jsonl and optionally "
        "members.jsonl (docs/data.md).",
    )
    commands = data.add_subparsers(dest="data_command", metavar="COMMAND", required=True)
    validate = commands.add_parser(
        "validate",
        help="check a dataset (ids resolve, timestamps, labels per task, sizes) and print its statistics",
        description="Every problem is printed as file:line: field: what is wrong; the exit status is 2 if any.",
    )
    validate.add_argument("dir", type=Path, help="the dataset folder")
    validate.set_defaults(handler=run_validate)
    movielens = commands.add_parser(
        "movielens",
        help="write MovieLens ml-latest-small (shipped in data/) in the dataset format",
        description="Items `Title (Year) | Genres`, actions `rated 4.5`, tasks like (4+ stars) and love (4.5+), "
        "and a profile snapshot per member and rating second from the ratings before it.",
    )
    movielens.add_argument("--out", type=Path, required=True, help="folder to write")
    movielens.add_argument("--source", type=Path, default=None, help="the MovieLens folder (default: the shipped one)")
    movielens.set_defaults(handler=run_movielens)


def run_validate(args: argparse.Namespace) -> int:
    from training.data.dataset_reader import load_dataset
    from training.data.dataset_stats import dataset_stats, format_stats

    try:
        stats = dataset_stats(load_dataset(args.dir))
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_stats(stats))
    if stats["problems"]:
        print("error: " + "; ".join(stats["problems"]), file=sys.stderr)
        return 2
    return 0


def run_movielens(args: argparse.Namespace) -> int:
    from training.data.movielens import DEFAULT_DATA_DIR
    from training.data.movielens_converter import convert

    try:
        out = convert(args.out, args.source or DEFAULT_DATA_DIR)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out} (check it with: slmrank data validate {out})")
    return 0
