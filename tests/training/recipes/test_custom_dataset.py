"""The README's path on a non-movie dataset, through the CLI only: validate -> teacher -> KD and SFT students ->
evaluate -> serve the student and /rank. Plus students from a local HF checkpoint and from the pruned teacher,
and the errors a user meets. Tiny preset: a plumbing check in seconds, not a quality claim."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import torch

from slmrank.cli import main
from tests.live_server import live_server
from tests.tiny_checkpoint import make_tiny_checkpoint
from tests.training.jobs_dataset import write_jobs_dataset

RUN = ["--config", "tiny", "--threads", "1"]


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    return write_jobs_dataset(tmp_path_factory.mktemp("jobs") / "jobs")


def cli(*argv: str | Path) -> int:
    return main([str(a) for a in argv])


def test_validate_train_distil_evaluate_serve(jobs: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    assert cli("data", "validate", jobs) == 0
    assert "synthetic-jobs: 40 items, 12 members, 144 interactions" in capsys.readouterr().out
    assert cli("train", "teacher", "--data", jobs, "--out", run, *RUN) == 0
    assert cli("train", "student", "--objective", "kd", "--data", jobs, "--out", run, *RUN) == 0
    assert cli("train", "student", "--objective", "sft", "--data", jobs, "--out", run, *RUN) == 0
    for stage in ("teacher", "student-kd", "student-sft"):
        card = json.loads((run / stage / "model" / "slmrank.json").read_text())
        assert [t["name"] for t in card["tasks"]] == ["apply"]  # the dataset's task, written into the card
        assert json.loads((run / stage / "best.json").read_text())["step"] > 0  # picked on val
    capsys.readouterr()

    table = tmp_path / "table.json"
    models = ("--model", run / "student-kd" / "model", "--model", run / "student-sft" / "model")
    assert cli("evaluate", *models, "--data", jobs, "--json", table, "--threads", "1") == 0
    rows = json.loads(table.read_text())["models"]
    assert {"popularity", "user+item bias", str(run / "student-kd" / "model")} <= set(rows)
    for row in rows.values():
        assert set(row["tasks"]["apply"]) >= {"auc", "member_auc", "ndcg@10", "log_loss", "ece"}
    assert rows[str(run / "student-kd" / "model")]["tasks"]["apply"]["log_loss"] > 0
    assert cli("evaluate", *models[:2], "--data", jobs, "--split", "val", "--threads", "1") == 0

    capsys.readouterr()
    assert cli("train", "request", "--data", jobs, "--member", "cand-3", "--num-candidates", "3") == 0
    body = json.loads(capsys.readouterr().out)
    assert body["task"] == "apply" and len(body["candidates"]) == 3
    with live_server(run / "student-kd" / "model", tmp_path / "server.log") as url:
        response = httpx.post(url + "/rank", json=body, timeout=60)
    assert response.status_code == 200, response.text
    ranked = response.json()["ranked"]
    assert sorted(r["id"] for r in ranked) == sorted(c["id"] for c in body["candidates"])


def test_pipeline_report_is_a_plumbing_check(jobs: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli("train", "pipeline", "--data", jobs, "--out", tmp_path / "run", *RUN) == 0
    report = (tmp_path / "run" / "report" / "training-tiny.md").read_text()
    assert "Plumbing check" in report and "not judged (plumbing check)" in report
    resolved = json.loads((tmp_path / "run" / "pipeline_config.json").read_text())
    assert resolved["tasks"] == ["apply"] and resolved["teacher_train"]["steps"] == 4

    # Every checkpoint kind the project writes: a W4A16 export evaluates through the project's own loader, and a
    # broken checkpoint after it is an error row that loses none of the finished rows.
    from compression.export import export_compressed
    from compression.quantize import QuantizeConfig, quantize_model
    from training.checkpoint_writer import load_model

    student = tmp_path / "run" / "student-kd" / "model"
    model, tokenizer, _ = load_model(student)
    config = QuantizeConfig(scheme="w4a16", group_size=16)
    calibration = [tokenizer.encode("Candidate: senior data role | Berlin")] * 2
    export_compressed(model, quantize_model(model, calibration, config), config.to_scheme(), tmp_path / "q", student)
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.json", "slmrank.json", "tokenizer.json", "tokenizer_config.json"):
        (broken / name).write_text((student / name).read_text())
    table = tmp_path / "table.json"
    argv = ("--model", tmp_path / "q", "--model", broken, "--data", jobs, "--json", table, "--threads", "1")
    assert cli("evaluate", *argv) == 1
    rows = json.loads(table.read_text())["models"]
    assert rows[str(tmp_path / "q")]["tasks"]["apply"]["auc"] is not None
    assert "error" in rows[str(broken)] and "user+item bias" in rows


def test_student_from_a_local_hf_checkpoint(jobs: Path, tmp_path: Path) -> None:
    init = make_tiny_checkpoint(tmp_path / "hf", hidden=32)
    run = tmp_path / "run"
    assert cli("train", "pipeline", "--data", jobs, "--out", run, "--student-init", init, *RUN) == 0
    manifest = json.loads((run / "student-kd" / "model" / "manifest.json").read_text())
    assert manifest["init"] == {"from": "checkpoint", "path": str(init)}
    assert json.loads((run / "tokenizer" / "source.json").read_text())["from_checkpoint"] == str(init)
    summary = json.loads((run / "evaluate" / "evaluation.json").read_text())
    assert summary["models"]["student-kd"]["tasks"]["apply"]["auc"] is not None


def test_student_by_pruning_the_teacher(jobs: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    argv = ("--data", jobs, "--out", run, "--student-init", "prune-teacher", *RUN)
    assert cli("train", "pipeline", *argv, "--set", "prune.mlp_sparsity=0.5", "--set", "prune.head_sparsity=0.5") == 0
    teacher = json.loads((run / "teacher" / "model" / "manifest.json").read_text())
    student = json.loads((run / "student-kd" / "model" / "manifest.json").read_text())
    assert student["init"]["from"] == "prune-teacher"
    assert student["num_parameters"] < teacher["num_parameters"]
    assert student["model_config"]["intermediate_size"] < teacher["model_config"]["intermediate_size"]
    summary = json.loads((run / "evaluate" / "evaluation.json").read_text())
    assert summary["models"]["student-kd"]["tasks"]["apply"]["auc"] is not None


def test_user_errors_are_one_line(jobs: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("dataset.json", "items.jsonl", "members.jsonl"):
        (bad / name).write_text((jobs / name).read_text())
    rows = [json.loads(line) for line in (jobs / "interactions.jsonl").read_text().splitlines()]
    rows[2]["timestamp"] = "yesterday"
    (bad / "interactions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    capsys.readouterr()
    assert cli("data", "validate", bad) == 2
    assert "interactions.jsonl:3: timestamp: 'yesterday' must be a non-negative integer" in capsys.readouterr().err

    assert cli("train", "teacher", "--data", jobs, "--out", tmp_path / "r", "--set", "teacher.depth=3", *RUN) == 2
    assert "unknown key teacher.depth" in capsys.readouterr().err

    a = make_tiny_checkpoint(tmp_path / "a", hidden=32)
    b = make_tiny_checkpoint(tmp_path / "b", hidden=32)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(b))
    tok.add_tokens(["zzz-extra"])
    tok.save_pretrained(str(b))
    argv = ("--data", jobs, "--out", tmp_path / "mix", "--teacher-init", a, "--student-init", b, *RUN)
    assert cli("train", "pipeline", *argv) == 2
    assert "vocabularies differ" in capsys.readouterr().err


def test_labels_must_be_single_tokens_of_an_init_checkpoint(jobs: Path, tmp_path: Path, capsys) -> None:
    data = tmp_path / "d"
    data.mkdir()
    for f in jobs.iterdir():
        (data / f.name).write_text(f.read_text())
    spec = json.loads((data / "dataset.json").read_text())
    spec["tasks"][0]["labels"] = [" Absolutely", " Never"]
    (data / "dataset.json").write_text(json.dumps(spec))
    init = make_tiny_checkpoint(tmp_path / "hf", hidden=32)
    argv = ("--data", data, "--out", tmp_path / "r", "--teacher-init", init, *RUN)
    assert cli("train", "teacher", *argv) == 2
    assert "label ' Absolutely' is" in capsys.readouterr().err
