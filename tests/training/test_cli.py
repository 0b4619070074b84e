"""The `slmrank train` / `slmrank evaluate` / `slmrank data` subcommands parse and explain themselves."""

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
    [
        ["train", "--help"],
        ["train", "pipeline", "--help"],
        ["train", "student", "--help"],
        ["evaluate", "--help"],
        ["data", "validate", "--help"],
        ["data", "movielens", "--help"],
    ],
)
def test_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parser().parse_args(argv)
    assert exit_info.value.code == 0
    assert "usage" in capsys.readouterr().out


def test_student_needs_objective_and_data() -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["train", "student", "--data", "d"])
    with pytest.raises(SystemExit):
        parser().parse_args(["train", "student", "--objective", "kd"])
    args = parser().parse_args(["train", "student", "--objective", "kd", "--config", "smoke", "--data", "d"])
    assert args.objective == "kd" and args.data.name == "d"


def test_documented_command_lines_parse() -> None:
    args = parser().parse_args(
        ["train", "pipeline", "--data", "d", "--config", "demo", "--out", "r", "--set", "seed=1", "--set", "a.b=2"]
    )
    assert args.overrides == ["seed=1", "a.b=2"]
    args = parser().parse_args(["evaluate", "--model", "m1", "--model", "m2", "--data", "d", "--split", "val"])
    assert [str(m) for m in args.model] == ["m1", "m2"] and args.split == "val"


def test_evaluate_report_without_json_is_one_error_line(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["evaluate", "--model", "m", "--data", "d", "--report", str(tmp_path / "r.md")])
    assert args.handler(args) == 2
    assert capsys.readouterr().err.strip() == "error: --report needs --json (the saved scores it pairs)"
