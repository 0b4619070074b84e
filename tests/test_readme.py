"""The README's promises that code can check: the two commands exist and every setting is documented."""

import re
from pathlib import Path

from service.config_table import render
from service.remote_options import option_rows
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_every_setting_is_in_the_configuration_table() -> None:
    for name in Settings.model_fields:
        assert f"`SLMRANK_{name.upper()}" in README, name


def test_the_configuration_table_is_the_generated_one() -> None:
    """README.md == `python -m service.config_table` output: run it after changing a setting or a backend option."""
    assert render(README) == README


def test_every_remote_backend_option_is_in_the_table() -> None:
    for path, _, help_text in option_rows():
        assert f"`SLMRANK_REMOTE__{path.upper().replace('.', '__')}`" in README and help_text, path


def test_the_two_commands_are_make_targets_and_ci_runs_the_test_one() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in ("serve", "test"):
        assert f"make {target}" in README
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert "make test" in (ROOT / ".ci" / "run").read_text()
