"""LoRA students: only the adapters train, and the merged checkpoint is a plain model scoring exactly like the
adapted one (the plain reference); through the CLI the student is saved merged and loads like any other."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ranking.labels import resolve_all
from slmrank.cli import main
from tests.tiny_checkpoint import TASKS
from tests.training.jobs_dataset import write_jobs_dataset
from tests.training.test_trainer import PROMPT, SHAPE
from training.data.example_builder import ExampleBuilder
from training.lora import LoraStudentConfig, add_lora, merge_lora, num_trainable
from training.model_factory import build_model
from training.objectives.ranking_losses import SupervisedRankingLoss
from training.packed_batch import pack_groups
from training.packed_lm import PackedLM
from training.trainer import TrainConfig, Trainer

pytest.importorskip("peft")


@pytest.fixture(scope="module")
def parts(split, tokenizer):
    torch.set_num_threads(1)
    examples = ExampleBuilder(split, tokenizer, PROMPT, ["like", "love"], group_size=3)
    return examples, resolve_all(tokenizer, TASKS.values(), len(tokenizer)), tokenizer


def test_adapters_train_alone_and_merge_into_the_same_scores(parts, tmp_path: Path) -> None:
    examples, labels, tok = parts
    model = build_model(SHAPE, tok, seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    handle = add_lora(model, LoraStudentConfig(rank=4))
    assert 0 < num_trainable(model) < 0.2 * sum(p.numel() for p in before.values())
    cfg = TrainConfig(steps=3, groups_per_step=2, learning_rate=1e-2, warmup_steps=1, checkpoint_every=100)
    Trainer(model, examples, labels, tok.pad_token_id, cfg, tmp_path, SupervisedRankingLoss()).run()
    for name, value in model.state_dict().items():
        if "lora_" not in name:
            assert torch.equal(value, before[name.replace("base_layer.", "")]), name  # the base stayed frozen

    model.eval()
    batch = pack_groups(examples.train_groups(np.random.default_rng(5), 2), labels, tok.pad_token_id)
    positions = torch.arange(8)
    with torch.no_grad():
        adapted = PackedLM(model)(batch, positions)[0]
    merged = merge_lora(handle)
    assert type(merged).__name__ == "Qwen3ForCausalLM"
    assert set(merged.state_dict()) == set(before)  # a plain checkpoint's keys
    with torch.no_grad():
        plain = PackedLM(merged.eval())(batch, positions)[0]
    assert torch.allclose(plain, adapted, atol=1e-5)
    assert not torch.allclose(merged.state_dict()["model.layers.0.self_attn.q_proj.weight"],
                              before["model.layers.0.self_attn.q_proj.weight"])  # fmt: skip


def test_cli_lora_student_is_saved_merged(tmp_path: Path) -> None:
    data = write_jobs_dataset(tmp_path / "jobs")
    run = ["--data", str(data), "--out", str(tmp_path / "run"), "--config", "tiny", "--threads", "1"]
    assert main(["train", "teacher", *run]) == 0
    assert main(["train", "student", "--objective", "sft", *run, "--set", "lora.rank=4"]) == 0
    model_dir = tmp_path / "run" / "student-sft" / "model"
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert manifest["lora"]["rank"] == 4 and manifest["lora"]["trainable_parameters"] > 0
    from training.checkpoint_writer import load_model

    loaded = load_model(model_dir)[0]
    assert not any("lora" in k for k in loaded.state_dict())
