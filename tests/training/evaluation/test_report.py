"""Goals are judged with paired intervals: a tiny difference is `not resolved`, a clear one `yes`/`no`; smoke-sized
runs judge nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.evaluation.evaluator import TaskScores, save_task_scores
from training.evaluation.report import goals, markdown


def scores(tmp_path: Path, name: str, signal: float, noise_seed: int) -> str:
    rng = np.random.default_rng(0)
    members = np.repeat(np.arange(300), 6).astype(str)
    labels = rng.random(members.size) < 0.4
    noise = np.random.default_rng(noise_seed).normal(size=members.size)
    ts = TaskScores(members, np.arange(members.size).astype(str), signal * labels + noise, labels)
    path = tmp_path / f"{name}.npz"
    save_task_scores({"t": ts}, path)
    return str(path)


def summary(tmp_path: Path, is_plumbing_check: bool = False) -> dict:
    models = {}
    for name, signal, seed, kind in (
        ("popularity", 0.2, 1, "baseline"),
        ("teacher", 1.5, 2, "model"),
        ("student-kd", 1.5, 2, "model"),  # the teacher's own scores: Δ = 0 with a zero-width interval
        ("student-sft", 0.3, 3, "model"),
    ):
        models[name] = {"kind": kind, "mean_auc": signal, "mean_member_auc": signal, "tasks": {"t": {"auc": signal}}}
        models[name]["scores"] = scores(tmp_path, name, signal, seed)
    return {"config": "x", "metric": "m", "models": models, "is_plumbing_check": is_plumbing_check}


def test_goals_use_intervals(tmp_path: Path) -> None:
    got = goals(summary(tmp_path))
    assert got["teacher > best non-LLM baseline (popularity)"].startswith("yes (")
    assert got["teacher > best non-LLM baseline per member (popularity)"].startswith("yes (")
    assert got["KD student within -0.2% of the teacher"].startswith("yes (Δ +0.00%")
    assert got["KD student > SFT student"].startswith("yes (")
    row = next(line for line in markdown(summary(tmp_path), {}, ["t"]).splitlines() if line.startswith("| teacher"))
    low, high = (float(x) for x in row.split("[")[1].split("]")[0].split(","))
    assert low < high  # the teacher's mean AUC with its member-bootstrap interval


def test_a_tiny_difference_is_not_resolved(tmp_path: Path) -> None:
    s = summary(tmp_path)
    s["models"]["student-sft"]["scores"] = scores(tmp_path, "sft2", 1.5, 4)  # same signal, other noise
    assert goals(s)["KD student > SFT student"].startswith("not resolved")


def test_plumbing_checks_judge_nothing(tmp_path: Path) -> None:
    s = summary(tmp_path, is_plumbing_check=True)
    assert goals(s) == {"goals": "not judged (plumbing check)"}
    assert "Plumbing check" in markdown(s, {}, ["t"])
