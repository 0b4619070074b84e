"""Offline teacher scores: a KD student trained from them follows the on-the-fly KD run step for step (smoke
preset, through the CLI), top-k storage approximates it, and scores written for another schedule are refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from slmrank.cli import main
from tests.training.jobs_dataset import write_jobs_dataset

RUN = ["--config", "smoke", "--threads", "1", "--device", "cpu", "--set", "val.every=0"]


def cli(*argv: str | Path) -> int:
    return main([str(a) for a in argv])


def log(run: Path) -> list[dict[str, float]]:
    rows = [json.loads(x) for x in (run / "student-kd" / "train_log.jsonl").read_text().splitlines()]
    return [r for r in rows if "loss" in r]


def losses(run: Path) -> list[float]:
    return [r["loss"] for r in log(run)]


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("scores")
    data = write_jobs_dataset(root / "jobs")
    assert cli("train", "teacher", "--data", data, "--out", root / "run", *RUN) == 0
    return data, root / "run"


def student_from_scores(data: Path, teacher_run: Path, out: Path, *extra: str) -> Path:
    shutil.copytree(teacher_run, out)
    assert cli("train", "teacher-scores", "--data", data, "--out", out, *RUN, *extra) == 0
    scores = f"teacher_scores.path={json.dumps(str(out / 'teacher-scores'))}"
    assert cli("train", "student", "--objective", "kd", "--data", data, "--out", out, *RUN, "--set", scores) == 0
    return out


def test_students_from_offline_scores_follow_on_the_fly_kd(teacher_run, tmp_path: Path) -> None:
    data, run = teacher_run
    live = tmp_path / "live"
    shutil.copytree(run, live)
    assert cli("train", "student", "--objective", "kd", "--data", data, "--out", live, *RUN) == 0
    offline = student_from_scores(data, run, tmp_path / "offline")
    assert losses(offline) == pytest.approx(losses(live), abs=1e-5)
    assert len(losses(live)) == 8 and losses(live)[0] != losses(live)[-1]
    a = load_file(live / "student-kd/model/model.safetensors")
    b = load_file(offline / "student-kd/model/model.safetensors")
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5
    manifest = json.loads((offline / "student-kd/model/manifest.json").read_text())
    assert manifest["teacher_scores"].endswith("teacher-scores")


def test_top_k_scores_approximate_the_full_distribution(teacher_run, tmp_path: Path) -> None:
    data, run = teacher_run
    full = student_from_scores(data, run, tmp_path / "full")
    top = student_from_scores(data, run, tmp_path / "top", "--set", "teacher_scores.top_k=32")
    files = sorted((top / "teacher-scores").glob("step-*.pt"))
    row = torch.load(files[0], weights_only=True)[0]
    assert row["sequence_values"].shape[1] == 32 and "sequence" not in row
    first_top, first_full = log(top)[0], log(full)[0]
    # Label rows are stored whole either way; only the sequence term sees the truncated teacher.
    assert first_top["label_kd"] == pytest.approx(first_full["label_kd"], abs=1e-5)
    assert first_top["label_ce"] == pytest.approx(first_full["label_ce"], abs=1e-5)
    assert first_top["sequence_kd"] != pytest.approx(first_full["sequence_kd"], abs=1e-5)
    assert all(torch.isfinite(torch.tensor(losses(top))))


def test_top_k_rows_are_the_renormalised_top_k_distribution() -> None:
    from training.teacher_scores import _dense, _sequence

    logprobs = torch.randn(3, 50, dtype=torch.float64).log_softmax(-1).float()
    dense = _dense(_sequence(logprobs, 5), 50).double().log_softmax(-1)
    values, index = logprobs.double().topk(5, dim=-1)
    reference = torch.zeros(3, 50, dtype=torch.float64).scatter(1, index, values.softmax(-1))
    assert torch.allclose(dense.exp(), reference, atol=1e-6)
    assert torch.equal(_dense(_sequence(logprobs, 0), 50), logprobs)


def test_scores_for_another_schedule_are_refused(teacher_run, tmp_path: Path, capsys) -> None:
    data, run = teacher_run
    out = tmp_path / "other"
    shutil.copytree(run, out)
    assert cli("train", "teacher-scores", "--data", data, "--out", out, *RUN) == 0
    scores = f"teacher_scores.path={json.dumps(str(out / 'teacher-scores'))}"
    status = cli("train", "student", "--objective", "kd", "--data", data, "--out", out, *RUN, "--set", scores,
                 "--set", "student_train.groups_per_step=2")  # fmt: skip
    assert status != 0
    assert "was written for groups_per_step=4, this run has 2" in capsys.readouterr().err


def test_chunked_student_from_scores_follows_on_the_fly_kd(teacher_run, tmp_path: Path) -> None:
    data, run = teacher_run
    live = tmp_path / "live"
    shutil.copytree(run, live)
    assert cli("train", "student", "--objective", "kd", "--data", data, "--out", live, *RUN) == 0
    chunked = student_from_scores(data, run, tmp_path / "chunked", "--set", "student_train.sequence_chunk_rows=16")
    assert losses(chunked) == pytest.approx(losses(live), abs=1e-5)


def test_a_prefix_curriculum_reaches_the_offline_scores(teacher_run, tmp_path: Path) -> None:
    """Scores written under a curriculum are the ones the student's short and full steps need, step for step."""
    data, run = teacher_run
    budget = ["--set", "prompt.max_profile_len=8"]  # so a 72-token prefix is valid and cuts this data's histories
    curriculum = [*budget, "--set", "student_train.short_prefix_steps=4", "--set", "student_train.short_prefix_len=72"]
    live, plain, offline = tmp_path / "live", tmp_path / "plain", tmp_path / "offline"
    for out, extra in ((live, curriculum), (plain, budget)):
        shutil.copytree(run, out)
        assert cli("train", "student", "--objective", "kd", "--data", data, "--out", out, *RUN, *extra) == 0
    shutil.copytree(run, offline)
    assert cli("train", "teacher-scores", "--data", data, "--out", offline, *RUN, *curriculum) == 0
    scores = f"teacher_scores.path={json.dumps(str(offline / 'teacher-scores'))}"
    args = ["--data", data, "--out", offline, *RUN, *curriculum, "--set", scores]
    assert cli("train", "student", "--objective", "kd", *args) == 0
    assert losses(offline) == pytest.approx(losses(live), abs=1e-5)
    assert losses(live) != pytest.approx(losses(plain), abs=1e-5)  # its short steps saw shorter prompts
