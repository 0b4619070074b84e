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
# Jobs one package adds to another's group, which may not import it: `slmrank compress recover|tables` need
# training (KD), and compression/ may not import training/. (module whose register returns the group, function)
GROUP_EXTENSIONS = (("compression.cli", "training.recipes.compress_cli", "register_compress_jobs"),)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every package's subcommands."""
    parser = argparse.ArgumentParser(
        prog="slmrank",
        description="Rank candidates for a member with a small language model, and build the models it serves.",
    )
    parser.add_argument("--version", action="version", version=f"slmrank {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups = {}
    for name in COMMAND_MODULES:
        module = _optional_module(name)
        if module is not None:
            groups[name] = module.register(subparsers)
    for group, name, function in GROUP_EXTENSIONS:
        module = _optional_module(name)
        if module is not None and groups.get(group) is not None:
            getattr(module, function)(groups[group])
    return parser


def _optional_module(name: str):  # type: ignore[no-untyped-def]
    """The module, or None when it is not installed (a missing import *inside* it is a real error)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name and not name.startswith(f"{exc.name}."):
            raise
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run the chosen subcommand's handler (set with `set_defaults(handler=...)`)."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
