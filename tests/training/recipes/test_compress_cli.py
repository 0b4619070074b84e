"""`slmrank compress recover` on a user's own checkpoint and dataset; `train compress` as an alias; the pipeline's
compression config for presets without one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from slmrank.cli import build_parser, main
from tests.training.jobs_dataset import write_jobs_dataset
from training.recipes.compress_tables import DEMO, SMOKE, config_for_pipeline


def cli(*argv: str | Path) -> int:
    return main([str(a) for a in argv])


def test_prune_and_kd_recovery_on_own_checkpoint_and_data(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    jobs = write_jobs_dataset(tmp_path / "jobs")
    run = tmp_path / "run"
    assert cli("train", "teacher", "--data", jobs, "--out", run, "--config", "tiny", "--threads", "1") == 0
    model = run / "teacher" / "model"
    width = json.loads((model / "config.json").read_text())["intermediate_size"]
    out = tmp_path / "recovered"
    argv = ["compress", "recover", "--model", model, "--data", jobs, "--out", out, "--mlp-sparsity", "0.5"]
    assert cli(*argv, "--neuron-multiple", "8", "--recovery-steps", "2", "--num-calibration", "4") == 0
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["intermediate_size"] == width // 2 // 8 * 8
    assert [t["name"] for t in json.loads((out / "model" / "slmrank.json").read_text())["tasks"]] == ["apply"]
    assert (out / "round-0").is_dir()  # the KD round trained there
    assert config["dtype"] == json.loads((model / "config.json").read_text())["dtype"]  # dtype in = dtype out
    bf16 = tmp_path / "recovered-bf16"
    assert cli(*argv[:7], bf16, "--mlp-sparsity", "0.5", "--recovery", "none", "--dtype", "bfloat16") == 0
    assert json.loads((bf16 / "model" / "config.json").read_text())["dtype"] == "bfloat16"

    calib = tmp_path / "calib.jsonl"
    assert cli("compress", "calibration", "--model", model, "--data", jobs, "--out", calib, "--num-calibration", 6) == 0
    lines = [json.loads(line) for line in calib.read_text().splitlines()]
    assert len(lines) == 6 and all(isinstance(t, int) for t in lines[0])
    from transformers import AutoTokenizer

    text = AutoTokenizer.from_pretrained(model).decode(lines[0])
    assert "Will the member apply?" in text  # the card's task question, through its template
    pruned = tmp_path / "pruned"
    assert (
        cli("compress", "prune", "--model", model, "--out", pruned, "--calibration", calib, "--mlp-sparsity", "0.5")
        == 0
    )


def test_train_compress_is_an_alias_of_compress_tables() -> None:
    parser = build_parser()
    alias = parser.parse_args(["train", "compress", "--out", "runs/x"])
    tables = parser.parse_args(["compress", "tables", "--out", "runs/x"])
    assert alias.handler.__qualname__ == tables.handler.__qualname__
    assert (alias.config, alias.threads) == (tables.config, tables.threads)


def test_pipeline_presets_without_a_compression_config_get_demo(tmp_path: Path) -> None:
    assert config_for_pipeline("smoke") is SMOKE
    assert config_for_pipeline("gpu") is DEMO  # was a KeyError after training finished
    assert config_for_pipeline(str(tmp_path / "my-run.toml")) is DEMO


def test_unknown_tables_config_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli("compress", "tables", "--out", tmp_path, "--config", "gpu") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown compression config 'gpu'") and err.count("\n") == 1
