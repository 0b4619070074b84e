"""`slmrank engine ...` prints the engine commands and explains itself."""

from __future__ import annotations

import argparse

import pytest

from ranking import cli


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))


def test_engine_sglang_prints_the_launch_command(tiny_model_dir, capsys):
    assert run(["engine", "sglang", "--model", str(tiny_model_dir), "--tp", "2"]) == 0
    out = capsys.readouterr().out
    assert "sglang.launch_server" in out and "--tp-size 2" in out and "--attention-backend flashinfer" in out


def test_engine_vllm_prints_the_cpu_command_with_the_checkpoint_name(tiny_model_dir, capsys):
    assert run(["engine", "vllm", "--model", str(tiny_model_dir), "--port", "8099"]) == 0
    out = capsys.readouterr().out
    assert "vllm.entrypoints.openai.api_server" in out and "--served-model-name tiny-random-qwen3" in out


def test_missing_checkpoint_is_a_clear_error(tmp_path, capsys):
    assert run(["engine", "sglang", "--model", str(tmp_path / "nope")]) == 2
    assert "config.json" in capsys.readouterr().err


def test_help_explains_the_flags(capsys):
    with pytest.raises(SystemExit):
        run(["engine", "sglang", "--help"])
    assert "lpm" in capsys.readouterr().out
