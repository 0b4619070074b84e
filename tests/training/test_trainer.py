"""The training loop: it learns, and an interrupted run resumes to exactly the uninterrupted result."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ranking.labels import resolve_all
from ranking.prompt_builder import PromptConfig
from tests.tiny_checkpoint import TASKS
from training.data.example_builder import ExampleBuilder
from training.model_factory import ModelConfig, build_model
from training.objectives.ranking_losses import RecSysDistillationLoss, SupervisedRankingLoss
from training.trainer import TrainConfig, Trainer

PROMPT = PromptConfig(max_prefix_len=112, max_profile_len=40, max_item_len=24, max_candidate_len=32)
SHAPE = ModelConfig(
    hidden_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, head_dim=16, intermediate_size=64
)
TRAIN = TrainConfig(steps=4, groups_per_step=2, warmup_steps=1, checkpoint_every=2, sequence_positions_per_row=8)


@pytest.fixture(scope="module")
def parts(split, tokenizer):
    torch.set_num_threads(1)
    examples = ExampleBuilder(split, tokenizer, PROMPT, ["like", "love"], group_size=3)
    return examples, resolve_all(tokenizer, TASKS.values(), len(tokenizer)), tokenizer


def make(parts, out: Path, loss=None, teacher=None) -> Trainer:
    examples, labels, tok = parts
    model = build_model(SHAPE, tok, seed=0)
    return Trainer(model, examples, labels, tok.pad_token_id, TRAIN, out, loss or SupervisedRankingLoss(), teacher)


class Interrupted(Exception):
    pass


def test_resume_reproduces_uninterrupted_run(parts, tmp_path: Path) -> None:
    straight = make(parts, tmp_path / "a")
    straight.run()
    broken = make(parts, tmp_path / "b")
    original = broken.train_step

    def step_then_maybe_stop():
        if broken.step == 2:
            raise Interrupted
        return original()

    broken.train_step = step_then_maybe_stop
    with pytest.raises(Interrupted):
        broken.run()
    resumed = make(parts, tmp_path / "b")
    resumed.run()
    assert resumed.step == 4
    for p, q in zip(straight.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
        assert torch.allclose(p, q, atol=1e-6)


def test_resume_refuses_another_config(parts, tmp_path: Path) -> None:
    make(parts, tmp_path).run()
    examples, labels, tok = parts
    other = Trainer(
        build_model(SHAPE, tok, 0),
        examples,
        labels,
        tok.pad_token_id,
        TrainConfig(steps=5, checkpoint_every=2),
        tmp_path,
        SupervisedRankingLoss(),
    )
    with pytest.raises(ValueError, match="another TrainConfig"):
        other.run()


class Payload:
    """A pickled object: what a tampered state file would carry to run code on load."""


def test_resume_loads_tensors_and_plain_values_only(parts, tmp_path: Path) -> None:
    from training.train_state import STATE_FILE

    torch.save({"config": TRAIN.to_dict(), "payload": Payload()}, tmp_path / STATE_FILE)
    with pytest.raises(Exception, match="Weights only load failed"):
        make(parts, tmp_path).run()


def test_distillation_pulls_student_towards_teacher(parts, tmp_path: Path) -> None:
    examples, labels, tok = parts
    teacher = build_model(SHAPE, tok, seed=7).eval()
    loss = RecSysDistillationLoss(label_kd_weight=1.0, label_ce_weight=0.0, sequence_weight=0.05)
    trainer = Trainer(
        build_model(SHAPE, tok, seed=0),
        examples,
        labels,
        tok.pad_token_id,
        TrainConfig(steps=30, groups_per_step=2, learning_rate=1e-2, warmup_steps=1, checkpoint_every=100),
        tmp_path,
        loss,
        teacher,
    )
    first, _ = trainer.train_step()
    trainer.step = 0  # score the same batch again after training
    trainer.run()
    trainer.step = 0
    last, _ = trainer.train_step()
    assert last < 0.5 * first


def test_distillation_needs_a_teacher(parts, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        make(parts, tmp_path, loss=RecSysDistillationLoss())


def test_on_policy_option_adds_its_term(parts, tmp_path: Path) -> None:
    examples, labels, tok = parts
    teacher = build_model(SHAPE, tok, seed=7).eval()
    cfg = TrainConfig(steps=1, groups_per_step=2, checkpoint_every=10, on_policy_fraction=1.0, on_policy_tokens=3)
    trainer = Trainer(
        build_model(SHAPE, tok, seed=0),
        examples,
        labels,
        tok.pad_token_id,
        cfg,
        tmp_path,
        RecSysDistillationLoss(),
        teacher,
    )
    teacher_calls = []
    teacher.register_forward_hook(lambda *_: teacher_calls.append(1))
    _, logged = trainer.train_step()
    assert logged["on_policy_kd"] >= 0.0
    assert teacher_calls  # the teacher scored the student's samples


def test_on_policy_logits_rows(parts) -> None:
    from training.on_policy import on_policy_logits

    _, _, tok = parts
    student, teacher = build_model(SHAPE, tok, seed=0), build_model(SHAPE, tok, seed=1)
    s, t = on_policy_logits(student, teacher, [[1, 5, 6, 7], [1, 9, 9]], 4, torch.Generator().manual_seed(0))
    assert s.shape == t.shape == (8, len(tok))
    assert s.requires_grad and not t.requires_grad
