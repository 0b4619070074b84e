"""The `slmrank train` / `slmrank evaluate` subcommands parse and explain themselves."""

from __future__ import annotations

import argparse

import pytest

from training import cli


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="slmrank")
    cli.register(p.add_subparsers(dest="command", required=True))
    return p


@pytest.mark.parametrize(
    "argv",
    [["train", "--help"], ["train", "pipeline", "--help"], ["train", "student", "--help"], ["evaluate", "--help"]],
)
def test_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parser().parse_args(argv)
    assert exit_info.value.code == 0
    assert "usage" in capsys.readouterr().out


def test_student_needs_objective() -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["train", "student"])
    args = parser().parse_args(["train", "student", "--objective", "kd", "--config", "smoke"])
    assert args.objective == "kd" and args.handler is cli._run_student
