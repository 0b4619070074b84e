"""The baseline report: the strongest baseline is picked by per-member AUC and every other row is paired with it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.evaluation.baseline_report import baseline_report, strongest_baseline
from training.evaluation.evaluator import TaskScores, save_task_scores, summarise


def row(tmp_path: Path, name: str, kind: str, signal: float) -> dict:
    rng = np.random.default_rng(0)
    members = np.repeat(np.arange(200), 6).astype(str)
    labels = rng.random(members.size) < 0.4
    noise = np.random.default_rng(len(name)).normal(size=members.size)
    per_task = {"t": TaskScores(members, np.arange(members.size).astype(str), signal * labels + noise, labels)}
    path = tmp_path / f"{name}.npz"
    save_task_scores(per_task, path)
    return {**summarise(per_task), "kind": kind, "scores": str(path)}


def test_rows_are_paired_with_the_strongest_baseline(tmp_path: Path) -> None:
    models = {
        "weak": row(tmp_path, "weak", "baseline", 0.1),
        "strong": row(tmp_path, "strong", "baseline", 1.0),
        "model": row(tmp_path, "model", "model", 3.0),
        "broken": {"kind": "model", "error": "OSError: gone"},
    }
    table = {"split": "test", "data": "d", "tasks": ["t"], "models": models}
    assert strongest_baseline(models) == "strong"
    text = baseline_report(table, "slmrank evaluate …", num_resamples=100)
    lines = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| ")}
    assert "reference" in lines["| strong"] and "broken" not in text
    member_delta = lines["| model"].rstrip(" |").split(" | ")[-1]
    low = float(member_delta.split("[")[1].split(",")[0])
    assert low > 0  # a much better ranker: the whole interval is above the reference
    assert float(lines["| weak"].rstrip(" |").split(" | ")[-1].split("[")[1].split(",")[1].rstrip("]")) < 0


def test_a_table_without_baselines_is_refused() -> None:
    with pytest.raises(ValueError, match="baseline"):
        strongest_baseline({"m": {"kind": "model", "mean_member_auc": 0.6}})


def test_the_strongest_past_only_baseline_is_a_second_reference_when_it_is_not_the_strongest(tmp_path: Path) -> None:
    models = {
        "strong": row(tmp_path, "strong", "baseline", 1.0),
        "past only": {**row(tmp_path, "past-only", "baseline", 0.3), "past_only": True},
        "weaker past only": {**row(tmp_path, "weaker-past-only", "baseline", 0.05), "past_only": True},
        "model": row(tmp_path, "model", "model", 0.6),
    }
    table = {"split": "test", "data": "d", "tasks": ["t"], "models": models}
    text = baseline_report(table, "slmrank evaluate …", num_resamples=100)
    header = next(line for line in text.splitlines() if line.startswith("| model"))
    assert header.count("vs strong") == 2 and header.count("vs past only") == 2 and "weaker" not in header
    cells = {
        line.split(" | ")[0]: line.rstrip(" |").split(" | ") for line in text.splitlines() if line.startswith("| ")
    }
    model = cells["| model"]
    # Below the strong reference on member AUC, above the weaker past-only one: the intervals say so.
    assert float(model[-3].split("[")[1].split(",")[1].rstrip("]")) < 0
    assert float(model[-1].split("[")[1].split(",")[0]) > 0
    assert cells["| past only"][-2:] == ["reference", "reference"]
    # When the strongest baseline is itself past-only there is one reference.
    models["past only"] = {**row(tmp_path, "past-only", "baseline", 2.0), "past_only": True}
    header = next(line for line in baseline_report(table, "…", 100).splitlines() if line.startswith("| model"))
    assert header.count("vs past only") == 2 and "vs strong" not in header
