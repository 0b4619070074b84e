"""The CLI: help texts, registration under `slmrank`, `python -m loadtest`, and bad arguments."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from loadtest.cli import register

ROOT = Path(__file__).resolve().parents[2]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="slmrank")
    register(p.add_subparsers(dest="command"))
    return p


@pytest.mark.parametrize("sub", ["run", "sweep", "report"])
def test_every_subcommand_has_help(sub: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(["loadtest", sub, "--help"])
    assert exc.value.code == 0
    assert len(capsys.readouterr().out) > 300


def test_grid_options_take_lists() -> None:
    args = parser().parse_args(["loadtest", "run", "--k", "1,8,32", "--repeat-fraction", "0,0.9", "--rate", "0.5"])
    assert args.k == [1, 8, 32] and args.repeat_fraction == [0.0, 0.9] and args.rate == 0.5
    sweep = parser().parse_args(["loadtest", "sweep", "--rates", "1,2", "--k", "4"])
    assert sweep.rates == [1.0, 2.0] and sweep.k == 4


def test_python_dash_m_loadtest_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "loadtest", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and "open-loop" in out.stdout.lower()


def test_bad_workload_is_a_clear_error() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "loadtest", "run", "--k", "0", "--url", "http://127.0.0.1:9"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0 and "k must be" in out.stderr
