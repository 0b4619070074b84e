import subprocess
import sys

from slmrank.cli import build_parser


def test_every_job_is_a_subcommand_with_help() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert "serve" in sub.choices
    for name, p in sub.choices.items():
        assert p.format_help().strip(), name


def test_console_script_help_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "slmrank", "serve", "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and "SLMRANK_MAX_CANDIDATES" in out.stdout
