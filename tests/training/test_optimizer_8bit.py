"""`optimizer = "adamw8bit"` (torchao) against plain float32 AdamW: the same training to a loose tolerance."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from tests.training.test_trainer_scale import parts, trained  # noqa: F401 - the fixture
from training.model_factory import ModelConfig, build_model
from training.optimizer_factory import build_optimizer, optimizer_state_bytes
from training.recipes.config_loader import load_config
from training.setup_error import SetupError

pytest.importorskip("torchao", reason="the optim8bit extra")

# Wide enough that most weights have >= 4,096 values (the ones torchao keeps in 8 bits).
WIDE = ModelConfig(
    hidden_size=64,
    num_hidden_layers=1,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    intermediate_size=128,
)


def test_unknown_distributed_and_missing_are_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    params = [torch.nn.Parameter(torch.zeros(4))]
    with pytest.raises(SetupError, match=r"^optimizer 'sgd': expected one of \('adamw', 'adamw8bit'\)$"):
        build_optimizer("sgd", params, 1e-3, 0.0)
    with pytest.raises(SetupError, match=r"^optimizer='adamw8bit' runs in one process only"):
        build_optimizer("adamw8bit", params, 1e-3, 0.0, distributed=True)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torchao" else real(name))
    with pytest.raises(SetupError, match=r"needs the optional extra: pip install 'slmrank\[optim8bit\]'$"):
        build_optimizer("adamw8bit", params, 1e-3, 0.0)


def test_the_option_is_reachable_from_the_config() -> None:
    config = load_config("tiny", ["teacher_train.optimizer='adamw8bit'"])
    assert (config.teacher_train.optimizer, config.student_train.optimizer) == ("adamw8bit", "adamw")


def test_adamw8bit_tracks_adamw_with_a_quarter_of_the_state(parts, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setattr("tests.training.test_trainer_scale.SHAPE", WIDE)
    steps = {"steps": 5, "warmup_steps": 1, "learning_rate": 5e-3}
    plain, plain_losses = trained(parts, tmp_path / "a", kd=False, **steps)
    small, losses = trained(parts, tmp_path / "b", kd=False, optimizer="adamw8bit", **steps)
    start = build_model(WIDE, parts[2], seed=0).state_dict()
    moved = torch.cat([(p - start[k]).flatten() for k, p in plain.model.state_dict().items()])
    moved8 = torch.cat([(p - start[k]).flatten() for k, p in small.model.state_dict().items()])
    assert type(small.optimizer).__name__ == "AdamW8bit"
    assert plain_losses[-1] < plain_losses[0] - 0.05  # the run learns: the comparison is not between two idle runs
    assert losses[0] == plain_losses[0]  # the same first batch and weights
    assert losses == pytest.approx(plain_losses, rel=0.02)
    assert ((moved8 - moved).norm() / moved.norm()).item() < 0.1  # the same updates to 10%
    fp32_bytes = optimizer_state_bytes(plain.optimizer)
    assert optimizer_state_bytes(small.optimizer) < 0.45 * fp32_bytes


def test_an_adamw8bit_stage_resumes_from_its_checkpoint(parts, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setattr("tests.training.test_trainer_scale.SHAPE", WIDE)
    straight, losses = trained(parts, tmp_path / "a", optimizer="adamw8bit", steps=3)
    first, _ = trained(parts, tmp_path / "b", optimizer="adamw8bit", steps=0)
    first.config = straight.config  # the 3-step schedule, stopped after 2 steps
    for first.step in range(2):
        first.train_step()
    first.step = 2
    (tmp_path / "b").mkdir()
    first._save_state()
    resumed, _ = trained(parts, tmp_path / "b", optimizer="adamw8bit", steps=0)
    resumed.config = straight.config
    resumed._resume()
    assert type(resumed.optimizer.state[next(resumed.module.parameters())]["exp_avg"]).__name__ == "OptimState8bit"
    assert resumed.step == 2
    last = resumed.train_step()[0]
    assert last == pytest.approx(losses[2], abs=1e-6)
    for p, q in zip(resumed.model.parameters(), straight.model.parameters(), strict=True):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=0)
