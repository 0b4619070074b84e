"""Data-parallel training for real: `torchrun --standalone --nproc-per-node 2 -m slmrank train teacher` (gloo,
FSDP2) against the one-process run with the same global batch, through the CLI only."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from slmrank.cli import main
from tests.tolerances import TOLERANCE
from tests.training.jobs_dataset import write_jobs_dataset

ROOT = Path(__file__).resolve().parents[2]
# 4 groups a step: 2 ranks x 2 accumulated micro-batches of 1 group each; val picks the best checkpoint on rank 0.
RUN = ["--config", "tiny", "--threads", "1", "--device", "cpu", "--set", "teacher_train.groups_per_step=4"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The dataset, a 1-process run and a 2-process run of the teacher stage."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("ddp")
    data = write_jobs_dataset(root / "jobs")
    one, two = root / "one", root / "two"
    two_procs = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    command = [*two_procs, "-m", "slmrank", "train", "teacher", "--data", str(data), "--out", str(two), *RUN]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([*command, "--set", "teacher_train.grad_accum_steps=2"], env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert main(["train", "teacher", "--data", str(data), "--out", str(one), *RUN]) == 0
    return data, one, two


def max_diff(a: Path, b: Path) -> float:
    x, y = load_file(a / "teacher/model/model.safetensors"), load_file(b / "teacher/model/model.safetensors")
    assert set(x) == set(y)
    return max((x[k] - y[k]).abs().max().item() for k in x)


def test_two_processes_match_one_process_with_the_same_global_batch(runs) -> None:
    _, one, two = runs
    assert max_diff(one, two) < TOLERANCE["float32"]
    log_one = [json.loads(x) for x in (one / "teacher/train_log.jsonl").read_text().splitlines()]
    log_two = [json.loads(x) for x in (two / "teacher/train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log_one] == [r["step"] for r in log_two]  # rank 0 alone wrote the log
    losses = [(r.get("loss"), s.get("loss")) for r, s in zip(log_one, log_two, strict=True) if "loss" in r]
    assert all(abs(a - b) < 1e-4 for a, b in losses)
    # The weights cannot show a gradient scaled by the world size (Adam and clipping undo it); the norm does.
    norms = [(r["grad_norm"], s["grad_norm"]) for r, s in zip(log_one, log_two, strict=True) if "loss" in r]
    assert all(abs(a - b) < 1e-4 * a for a, b in norms)
    assert losses[0][0] != losses[-1][0]  # it trained
    best = json.loads((two / "teacher/best.json").read_text())
    assert best["step"] == json.loads((one / "teacher/best.json").read_text())["step"]
    manifest = json.loads((two / "teacher/model/manifest.json").read_text())
    assert manifest["world_size"] == 2 and manifest["device"] == "cpu"


def test_a_two_process_state_resumes_in_one_process(runs, tmp_path: Path) -> None:
    data, _, two = runs
    resumed = tmp_path / "resumed"
    shutil.copytree(two, resumed)
    shutil.rmtree(resumed / "teacher" / "model")
    (resumed / "teacher" / "done.json").unlink()
    (resumed / "teacher" / "best.json").unlink()  # final weights, not the val pick, are compared
    assert main(["train", "teacher", "--data", str(data), "--out", str(resumed), *RUN,
                 "--set", "teacher_train.grad_accum_steps=2"]) == 0  # fmt: skip
    state = torch.load(resumed / "teacher/train_state.pt", weights_only=True)
    assert state["step"] == 4
    final = load_file(resumed / "teacher/model/model.safetensors")
    for name, value in state["model"].items():
        key = name.removeprefix("model.")
        if key in final:
            assert torch.allclose(final[key], value)
