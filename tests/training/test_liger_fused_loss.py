"""`fused_loss = "liger"`: refused in one line where it cannot run; the plain sequence terms are its reference."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from tests.tolerances import TOLERANCE
from tests.training.jobs_dataset import write_jobs_dataset
from tests.training.test_trainer import SHAPE
from tests.training.test_trainer_scale import BASE, max_param_diff, parts, trained  # noqa: F401 - the fixture
from training.cli import register
from training.model_factory import build_model
from training.objectives.distillation_losses import divergence
from training.objectives.fused_loss_factory import build_fused_loss
from training.objectives.liger_sequence_ce import LigerSequenceCrossEntropy
from training.objectives.liger_sequence_kd import LigerSequenceDivergence, liger_beta
from training.objectives.ranking_losses import RecSysDistillationLoss, SupervisedRankingLoss
from training.precision import Precision, resolve_device
from training.recipes.config_loader import load_config
from training.setup_error import SetupError
from training.trainer import Trainer

CPU, CUDA = torch.device("cpu"), torch.device("cuda", 0)


@pytest.fixture
def no_tf32(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Plain float32 matmuls on both sides of a CUDA comparison (the trainer turns TF32 on)."""
    monkeypatch.setattr(Precision, "enable_tf32", lambda self: None)
    matmul = torch.backends.cuda.matmul
    was, matmul.allow_tf32 = matmul.allow_tf32, False
    yield
    matmul.allow_tf32 = was


def test_the_divergences_map_to_liger_betas() -> None:
    assert liger_beta(divergence("forward_kl", 0.7, 2.0)) == 0.0
    assert liger_beta(divergence("reverse_kl", 0.7, 2.0)) == 1.0
    assert liger_beta(divergence("jsd", 0.3, 2.0)) == 0.3
    fused = LigerSequenceDivergence(divergence("jsd", 0.3, 2.5))
    assert (fused.beta, fused.temperature) == (0.3, 2.5)


def test_liger_on_the_cpu_is_refused_in_one_line(parts, tmp_path: Path) -> None:  # noqa: F811
    with pytest.raises(SetupError, match=r"^fused_loss='liger' needs CUDA .* runs on cpu; use sequence_chunk_rows"):
        trained(parts, tmp_path, kd=True, fused_loss="liger")


def test_liger_without_the_package_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "liger_kernel" else real(name))
    with pytest.raises(
        SetupError, match=r"^fused_loss='liger' needs the optional extra: pip install 'slmrank\[liger\]'$"
    ):
        build_fused_loss("liger", RecSysDistillationLoss(), CUDA)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "triton"}, "fused_loss 'triton': expected one of"),
        ({"offline_scores": True}, "does not read teacher_scores"),
        ({"on_policy": True}, "on-policy KD do not combine"),
        ({"distributed": True}, "runs in one process only"),
    ],
)
def test_what_liger_cannot_run_is_refused_before_the_device_check(kwargs: dict, message: str) -> None:
    args = {"name": "liger", "loss": RecSysDistillationLoss(), "device": CUDA, **kwargs}
    with pytest.raises(SetupError, match=message):
        build_fused_loss(**args)


def test_liger_builds_the_kernel_of_the_objective(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())  # as if installed
    assert isinstance(build_fused_loss("liger", RecSysDistillationLoss(), CUDA), LigerSequenceDivergence)
    assert isinstance(build_fused_loss("liger", SupervisedRankingLoss(), CUDA), LigerSequenceCrossEntropy)


def test_the_pipeline_refuses_liger_on_the_cpu_before_any_stage(tmp_path: Path, capsys) -> None:
    parser = argparse.ArgumentParser(prog="slmrank")
    register(parser.add_subparsers(dest="command", required=True))
    data = write_jobs_dataset(tmp_path / "jobs")
    argv = ["train", "pipeline", "--data", str(data), "--config", "tiny", "--out", str(tmp_path / "run"),
            "--set", "student_train.fused_loss='liger'"]  # fmt: skip
    args = parser.parse_args(argv)
    assert args.handler(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: fused_loss='liger' needs CUDA") and "\n" not in err
    assert not (tmp_path / "run" / "tokenizer").exists()  # nothing ran


def test_none_builds_nothing_and_the_option_is_reachable_from_the_config() -> None:
    assert build_fused_loss("none", RecSysDistillationLoss(), CPU) is None
    config = load_config("tiny", ["student_train.fused_loss='liger'"])
    assert config.student_train.fused_loss == "liger"
    assert config.teacher_train.fused_loss == "none"


# (divergence name, beta, temperature), or ("cross_entropy", 0, 1) for the supervised term.
CASES = [("forward_kl", 0.0, 1.0), ("reverse_kl", 0.0, 2.0), ("jsd", 0.3, 1.5), ("cross_entropy", 0.0, 1.0)]


def kernel_vs_plain(device: torch.device, name: str, beta: float, temperature: float) -> list[float]:
    """|fused - plain| of the value, and of the gradients of 3 x the loss w.r.t. the hidden rows and the head."""
    torch.manual_seed(0)
    student_head = torch.nn.Linear(32, 300, bias=False, device=device)
    teacher_head = torch.nn.Linear(48, 300, bias=False, device=device)
    hidden = torch.randn(77, 32, device=device, requires_grad=True)
    teacher_hidden = torch.randn(77, 48, device=device)
    targets = torch.randint(0, 300, (77,), device=device)
    if name == "cross_entropy":
        reference = torch.nn.functional.cross_entropy(student_head(hidden), targets)
        fused_loss: LigerSequenceDivergence | LigerSequenceCrossEntropy = LigerSequenceCrossEntropy()
    else:
        plain = divergence(name, beta, temperature)
        reference = plain(student_head(hidden), teacher_head(teacher_hidden))
        fused_loss = LigerSequenceDivergence(plain)
    ref_grads = torch.autograd.grad(3.0 * reference, (hidden, student_head.weight))
    fused = fused_loss(hidden, student_head.weight, targets, teacher_hidden, teacher_head.weight)
    grads = torch.autograd.grad(3.0 * fused, (hidden, student_head.weight))
    assert reference.item() > 1e-3  # not two zeros
    diffs = [(got - want).abs().max().item() for got, want in zip(grads, ref_grads, strict=True)]
    return [abs(fused.item() - reference.item()), *diffs]


@pytest.mark.gpu
@pytest.mark.parametrize(("name", "beta", "temperature"), CASES)
def test_liger_kernel_equals_the_plain_divergence(no_tf32, name: str, beta: float, temperature: float) -> None:
    assert max(kernel_vs_plain(CUDA, name, beta, temperature)) < TOLERANCE["float32"]


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="needs triton (the liger extra)")
def test_liger_kernel_in_the_triton_interpreter_equals_the_plain_divergence() -> None:
    """The same Triton kernels run on the CPU by Triton's interpreter (TRITON_INTERPRET=1, set before import)."""
    code = (
        "import json, torch; from tests.training.test_liger_fused_loss import CASES, kernel_vs_plain; "
        "print(json.dumps([kernel_vs_plain(torch.device('cpu'), *case) for case in CASES]))"
    )
    env = {**os.environ, "TRITON_INTERPRET": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    diffs = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(diffs) == len(CASES)
    assert max(max(d) for d in diffs) < TOLERANCE["float32"]


@pytest.mark.gpu
@pytest.mark.parametrize("divergence_name", ["forward_kl", "jsd", None])
def test_liger_training_steps_equal_the_chunked_steps_on_cuda(
    parts,  # noqa: F811
    no_tf32,
    tmp_path: Path,
    divergence_name: str | None,
) -> None:
    examples, labels, tok = parts
    device = resolve_device("cuda")

    def run(out: Path, **changes) -> tuple[Trainer, list[float]]:
        loss: RecSysDistillationLoss | SupervisedRankingLoss = SupervisedRankingLoss()  # None: the sequence CE
        if divergence_name is not None:
            loss = RecSysDistillationLoss(divergence_name=divergence_name, beta=0.4, temperature=1.5)
        kd = divergence_name is not None
        teacher = build_model(SHAPE, tok, seed=7) if kd else None
        cfg = dataclasses.replace(BASE, sequence_positions_per_row=0, **changes)
        trainer = Trainer(build_model(SHAPE, tok, seed=0), examples, labels, tok.pad_token_id, cfg, out, loss,
                          teacher, device=device)  # fmt: skip
        losses = []
        while trainer.step < cfg.steps:
            losses.append(trainer.train_step()[0])
            trainer.step += 1
        return trainer, losses

    plain, plain_losses = run(tmp_path / "a", sequence_chunk_rows=16)
    fused, losses = run(tmp_path / "b", fused_loss="liger")
    assert losses == pytest.approx(plain_losses, abs=1e-4)
    assert max_param_diff(plain, fused) < 1e-4
