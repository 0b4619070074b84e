"""`python -m loadtest ...`: the same commands as `slmrank loadtest ...`."""

from __future__ import annotations

import argparse
import sys

from loadtest.cli import register


def main(argv: list[str] | None = None) -> int:
    """Parse `loadtest` arguments and run the chosen handler."""
    parser = argparse.ArgumentParser(prog="python -m loadtest")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(["loadtest", *(sys.argv[1:] if argv is None else argv)])
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
