"""`slmrank <job>`: one console script; each package registers its own subcommands in its `cli.py`.

Packages are imported lazily and only their argument parsers at that, so `slmrank --help` stays fast and
`slmrank serve` never imports the training stack.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

from slmrank import __version__

# Each module defines `register(subparsers)`; order is the order shown in --help.
COMMAND_MODULES = ("service.cli", "ranking.cli", "ranking.card_cli", "training.cli", "compression.cli", "loadtest.cli")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every package's subcommands."""
    parser = argparse.ArgumentParser(
        prog="slmrank",
        description="Rank candidates for a member with a small language model, and build the models it serves.",
    )
    parser.add_argument("--version", action="version", version=f"slmrank {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the CLI module exists but one of its imports is missing: a real error
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run the chosen subcommand's handler (set with `set_defaults(handler=...)`)."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
