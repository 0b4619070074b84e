"""The compression pipeline on a tiny training run: every table filled, a re-run skips finished stages."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from ranking.prompt_builder import PromptConfig
from training.checkpoint_writer import write_json
from training.data.split import SplitConfig
from training.evaluation.evaluator import load_task_scores
from training.objectives.distill_config import DistillConfig
from training.recipes.compress_report import SEEDS_TITLE
from training.recipes.compress_tables import SMOKE, delta_intervals, run_compression_pipeline

from .test_compress_recovery import PROMPT, write_tiny_checkpoint

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "data" / "movielens-latest-small"
TINY = replace(
    SMOKE, recovery_steps=2, num_calibration=4, max_eval_members=4, schemes=("fp8_dynamic", "w4a16"), seed_replicates=2
)


def tiny_run(tokenizer, run: Path, prompt: PromptConfig = PROMPT) -> Path:
    """The parts of a `slmrank train pipeline` run the compression pipeline reads, with random tiny models."""
    tokenizer.save_pretrained(str(run / "tokenizer"))
    config = {
        "name": "tiny",
        "prompt": prompt.to_dict(),
        "split": SplitConfig().__dict__,
        "distill": DistillConfig().__dict__,
        "tasks": ["like", "love"],
        "group_size": 3,
        "max_members": 6,
    }
    write_json(run / "pipeline_config.json", config)
    write_tiny_checkpoint(tokenizer, run / "teacher" / "model", seed=1)
    write_tiny_checkpoint(tokenizer, run / "student-kd" / "model", seed=0)
    return run


def test_pipeline_fills_tables_and_resumes(tokenizer, tmp_path: Path, monkeypatch) -> None:
    import training.evaluation.bootstrap
    import training.recipes.compress_quantize
    import training.recipes.compress_recovery

    torch.set_num_threads(1)
    run = tiny_run(tokenizer, tmp_path / "run")
    summary = run_compression_pipeline(run, TINY, DATA, tmp_path / "report" / "tables")
    expected = {"teacher", "student-kd", "oneshot-mlp25", "quant-fp8_dynamic", "quant-w4a16", "oneshot-mlp25-sft"}
    expected |= {"oneshot-mlp25-kd", "heads50", "heads50-kd", "gradual2-mlp25-kd", "unpruned-sft", "unpruned-kd"}
    expected |= {"gradual2-mlp25-kd-fp8_dynamic", "gradual2-mlp25-kd-w4a16"}  # the chain: pruned, then quantized
    expected |= {"oneshot-mlp25-kd-seed1", "heads50-kd-seed1", "unpruned-kd-seed1"}  # a second seed
    assert set(summary["models"]) == expected and not summary["not_run"]
    chain = summary["stages"]["gradual2-mlp25-kd-w4a16"]["spec"]
    assert chain["source"] == str(run / "compression" / "gradual2-mlp25-kd" / "model")
    md = (tmp_path / "report" / "tables.md").read_text()
    for table in ("Table 1", "Table 2", "Table 3", "Table 4", "Table 8", "Table 8b"):
        assert table in md

    # The second seed trains on another batch stream, so its model differs; the seed table pairs them up.
    a, b = (load_task_scores(run / "compression" / n / "scores.npz") for n in ("heads50-kd", "heads50-kd-seed1"))
    assert not np.array_equal(a["like"].scores, b["like"].scores)
    tables = json.loads((tmp_path / "report" / "tables.json").read_text())["tables"]
    seeds = {r["stage"]: r for r in tables[SEEDS_TITLE]}
    assert set(seeds) == {"oneshot-mlp25-kd", "heads50-kd", "unpruned-kd"}
    assert len(seeds["heads50-kd"]["deltas_pct"]) == 2 and "mean_delta_vs_control_pct" in seeds["heads50-kd"]
    assert "Seed spread" in md

    # Every delta vs the student has a paired interval around it; pruned + KD ones also vs the control.
    intervals = summary["intervals"]
    assert set(intervals["student-kd"]) == expected - {"student-kd", "teacher"}
    for iv in intervals["student-kd"].values():
        assert iv["low_pct"] <= iv["delta_pct"] <= iv["high_pct"]
    assert {"heads50-kd", "oneshot-mlp25-kd"} <= set(intervals["unpruned-kd"])
    assert (
        "95% CI ["
        in json.loads((tmp_path / "report" / "tables.json").read_text())["goals"][
            "50% heads + KD within -0.1% of the control (unpruned + same KD steps)"
        ]
    )
    assert "not run" in md  # the w8a8_int8 goal: its stage is not in TINY
    data = json.loads((tmp_path / "report" / "tables.json").read_text())
    assert data["goals"]["fp8_dynamic >= -0.05%"] != "not run"
    assert (tmp_path / "report" / "tables.png").stat().st_size > 0

    # Intervals are deterministic; known ones are reused, not recomputed (they cost seconds each on real runs).
    fresh = delta_intervals(run, list(summary["models"]), TINY)
    assert fresh == intervals

    def no_bootstrap(*args, **kwargs):
        raise AssertionError("a known interval was recomputed")

    with monkeypatch.context() as patch:
        patch.setattr(training.evaluation.bootstrap, "paired_auc_delta", no_bootstrap)
        assert delta_intervals(run, list(summary["models"]), TINY, known=intervals) == intervals

    # Second run: every stage is done, so nothing is pruned, quantized or trained again.
    def fail(*args, **kwargs):
        raise AssertionError("a finished stage ran again")

    monkeypatch.setattr(training.recipes.compress_recovery, "prune_and_recover", fail)
    monkeypatch.setattr(training.recipes.compress_quantize, "quantize_checkpoint", fail)
    again = run_compression_pipeline(run, TINY, DATA)
    assert again["models"] == summary["models"]


def test_time_budget_reports_not_run(tokenizer, tmp_path: Path) -> None:
    run = tiny_run(tokenizer, tmp_path / "run")
    summary = run_compression_pipeline(run, replace(TINY, schemes=()), DATA, time_budget_s=-1.0)
    assert summary["models"] == {} and "heads50-kd" in summary["not_run"]


def test_rejects_a_directory_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a finished training run"):
        run_compression_pipeline(tmp_path, TINY, DATA)


@pytest.mark.slow
def test_smoke_config_on_a_smoke_training_run(tmp_path: Path) -> None:
    """`slmrank train pipeline --config smoke`, then the whole compression pipeline with its smoke config."""
    from training.data.movielens_converter import convert
    from training.recipes.compress_report import table_rows, table_specs
    from training.recipes.config_loader import load_config
    from training.recipes.pipeline import Pipeline

    torch.set_num_threads(1)
    Pipeline(load_config("smoke"), tmp_path / "run", convert(tmp_path / "movielens", DATA)).run()
    summary = run_compression_pipeline(tmp_path / "run", SMOKE, DATA, tmp_path / "tables")
    assert not summary["not_run"]
    for _, rows in table_specs(summary):
        assert all(r["status"] == "ok" for r in table_rows(summary, rows))
    pruned = summary["models"]["gradual2-mlp25-kd"]
    assert pruned["num_parameters"] < summary["models"]["student-kd"]["num_parameters"]
    assert summary["models"]["quant-w4a16"]["bytes"] < summary["models"]["student-kd"]["bytes"]
