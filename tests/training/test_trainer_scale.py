"""Gradient accumulation, gradient checkpointing and bf16 autocast, each against the plain one-batch fp32 step."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from ranking.labels import resolve_all
from tests.tiny_checkpoint import TASKS
from tests.tolerances import TOLERANCE
from tests.training.test_trainer import PROMPT, SHAPE
from training.data.example_builder import ExampleBuilder
from training.model_factory import build_model
from training.objectives.ranking_losses import RecSysDistillationLoss, SupervisedRankingLoss
from training.precision import Precision, resolve_device
from training.trainer import TrainConfig, Trainer

BASE = TrainConfig(steps=2, groups_per_step=4, warmup_steps=1, checkpoint_every=100, sequence_positions_per_row=8)


@pytest.fixture(scope="module")
def parts(split, tokenizer):
    torch.set_num_threads(1)
    examples = ExampleBuilder(split, tokenizer, PROMPT, ["like", "love"], group_size=3)
    return examples, resolve_all(tokenizer, TASKS.values(), len(tokenizer)), tokenizer


def trained(parts, out: Path, kd: bool = False, **changes) -> tuple[Trainer, list[float]]:
    """A model after BASE's steps with `changes`; the logged losses."""
    examples, labels, tok = parts
    teacher = build_model(SHAPE, tok, seed=7) if kd else None
    loss = RecSysDistillationLoss() if kd else SupervisedRankingLoss()
    cfg = dataclasses.replace(BASE, **changes)
    trainer = Trainer(build_model(SHAPE, tok, seed=0), examples, labels, tok.pad_token_id, cfg, out, loss, teacher)
    trainer.module.train()
    losses = []
    while trainer.step < cfg.steps:
        losses.append(trainer.train_step()[0])
        trainer.step += 1
    return trainer, losses


def max_param_diff(a: Trainer, b: Trainer) -> float:
    pairs = zip(a.model.state_dict().values(), b.model.state_dict().values(), strict=True)
    return max((p.float() - q.float()).abs().max().item() for p, q in pairs)


@pytest.mark.parametrize("kd", [False, True])
@pytest.mark.parametrize("accum", [2, 4])
def test_accumulated_micro_batches_equal_one_big_batch(parts, tmp_path: Path, kd: bool, accum: int) -> None:
    plain, plain_losses = trained(parts, tmp_path / "a", kd)
    accumulated, losses = trained(parts, tmp_path / "b", kd, grad_accum_steps=accum)
    assert losses == pytest.approx(plain_losses, abs=TOLERANCE["float32"])
    assert max_param_diff(plain, accumulated) < TOLERANCE["float32"]
    moved = max(
        (p - q).abs().max().item()
        for p, q in zip(plain.model.parameters(), build_model(SHAPE, parts[2], 0).parameters(), strict=True)
    )
    assert moved > 100 * TOLERANCE["float32"]  # the comparison is not between two untrained models


def test_accumulation_that_does_not_divide_the_batch_is_refused(parts, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="groups_per_step=4 must be a multiple of world size 1 x grad_accum_steps 3"):
        trained(parts, tmp_path, grad_accum_steps=3)


@pytest.mark.parametrize("kd", [False, True])
def test_gradient_checkpointing_gives_the_plain_gradients(parts, tmp_path: Path, kd: bool) -> None:
    plain, plain_losses = trained(parts, tmp_path / "a", kd)
    calls: list[int] = []
    checkpointed, losses = trained(parts, tmp_path / "b", kd, gradient_checkpointing=True, steps=1)
    checkpointed.model.model.layers[0].input_layernorm.register_forward_hook(lambda *_: calls.append(1))
    checkpointed.step = 1
    checkpointed.config = dataclasses.replace(checkpointed.config, steps=2)
    losses.append(checkpointed.train_step()[0])
    assert len(calls) == 2  # forward, then the recompute in backward
    assert losses == pytest.approx(plain_losses, abs=TOLERANCE["float32"])
    assert max_param_diff(plain, checkpointed) < TOLERANCE["float32"]


def test_bf16_autocast_tracks_fp32_and_keeps_fp32_master_weights(parts, tmp_path: Path) -> None:
    _, plain_losses = trained(parts, tmp_path / "a", kd=True)
    mixed, losses = trained(parts, tmp_path / "b", kd=True, precision="bf16")
    assert {p.dtype for p in mixed.model.parameters()} == {torch.float32}
    assert {p.dtype for p in mixed.teacher.parameters()} == {torch.bfloat16}  # the teacher in the compute dtype
    assert all(not p.requires_grad for p in mixed.teacher.parameters())
    assert losses == pytest.approx(plain_losses, rel=2 * TOLERANCE["bfloat16"])
    assert losses != plain_losses  # bf16 really ran


def test_unknown_precision_and_missing_cuda_are_refused() -> None:
    with pytest.raises(ValueError, match="precision 'fp8'"):
        Precision(torch.device("cpu"), "fp8")
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert resolve_device("auto") == torch.device("cpu")
        with pytest.raises(ValueError, match="no CUDA device"):
            resolve_device("cuda")


@pytest.mark.gpu
def test_cuda_bf16_step_runs_on_the_device(parts, tmp_path: Path) -> None:
    examples, labels, tok = parts
    cfg = dataclasses.replace(BASE, precision="bf16", steps=1)
    trainer = Trainer(build_model(SHAPE, tok, 0), examples, labels, tok.pad_token_id, cfg, tmp_path,
                      SupervisedRankingLoss(), device=resolve_device("cuda"))  # fmt: skip
    trainer.train_step()
    assert next(trainer.model.parameters()).device.type == "cuda"
