"""Prune + recover: a gradually pruned, KD-recovered checkpoint loads with plain transformers and scores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from compression.compress_config import DEFAULTS
from ranking.card import ModelCard
from ranking.prompt_builder import PromptConfig
from tests.tiny_checkpoint import TASKS
from training.checkpoint_writer import save_checkpoint
from training.data.example_builder import ExampleBuilder
from training.model_factory import ModelConfig, build_model
from training.recipes.compress_recovery import PruneRecipeConfig, calibration_sequences, prune_and_recover

PROMPT = PromptConfig(max_prefix_len=96, max_profile_len=32, max_item_len=24, max_candidate_len=32)
SHAPE = ModelConfig(
    hidden_size=32, num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2, head_dim=8, intermediate_size=64
)
RECIPE = PruneRecipeConfig(
    mlp_sparsity=0.5,
    head_sparsity=0.5,
    num_steps=2,
    recovery="kd",
    recovery_steps=4,
    groups_per_step=2,
    num_calibration=4,
    max_swap_rounds=1,
)


def write_tiny_checkpoint(tokenizer, out: Path, seed: int = 0) -> Path:
    """A random tiny Qwen3 saved the way the training pipeline saves its students."""
    model = build_model(SHAPE, tokenizer, seed)
    manifest = {"model_name": "tiny", "role": "student-kd"}
    card = ModelCard("tiny", tuple(TASKS.values()), PROMPT)
    return save_checkpoint(model, tokenizer, out, card, manifest)


@pytest.fixture(scope="module")
def examples(split, tokenizer) -> ExampleBuilder:
    torch.set_num_threads(1)
    return ExampleBuilder(split, tokenizer, PROMPT, ["like", "love"], group_size=3)


def test_round_steps_split_the_budget() -> None:
    assert PruneRecipeConfig(recovery_steps=10, num_steps=2).round_steps() == 5
    assert PruneRecipeConfig(recovery_steps=10, num_steps=1).round_steps() == 10
    assert PruneRecipeConfig(recovery="none", recovery_steps=10).round_steps() == 0
    with pytest.raises(ValueError, match="recovery"):
        PruneRecipeConfig(recovery="magic")


def test_calibration_sequences_are_real_prompts(examples: ExampleBuilder) -> None:
    first = calibration_sequences(examples, 3, seed=1)
    assert first == calibration_sequences(examples, 3, seed=1)
    assert len(first) == 3 and all(len(s) > 10 for s in first)
    bos = examples.builder.tokenizer.bos_token_id
    assert all(s[0] == bos for s in first)


def test_gradual_prune_with_kd_loads_and_scores(examples: ExampleBuilder, tokenizer, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    from training.evaluation.evaluator import evaluate_checkpoint
    from training.recipes.compress_quantize import eval_groups

    student = write_tiny_checkpoint(tokenizer, tmp_path / "student")
    kd = prune_and_recover(student, examples, tmp_path / "kd", RECIPE)
    model = AutoModelForCausalLM.from_pretrained(str(kd), local_files_only=True)
    # 0.5 in two rounds: 64 -> 48 -> 32 neurons; 4 -> 3 -> 2 query heads (per KV group: 2 -> 1).
    assert model.config.intermediate_size == 32
    assert model.config.num_attention_heads == 2
    for i in range(2):
        state = torch.load(tmp_path / "kd" / f"round-{i}" / "train_state.pt", weights_only=False)
        assert state["step"] == RECIPE.round_steps()
    manifest = json.loads((kd / "manifest.json").read_text())
    assert manifest["compression"]["prune_recipe"]["num_steps"] == 2
    result = evaluate_checkpoint(kd, eval_groups(examples, max_members=4))
    assert set(result["tasks"]) == {"like", "love"}
    assert 0.0 <= result["mean_auc"] <= 1.0
    assert result["num_parameters"] < sum(p.numel() for p in build_model(SHAPE, tokenizer, 0).parameters())

    # The same pruning without recovery gives other weights: the KD rounds did train the pruned model.
    none = prune_and_recover(
        student, examples, tmp_path / "none", PruneRecipeConfig(**{**vars(RECIPE), "recovery": "none"})
    )
    plain = AutoModelForCausalLM.from_pretrained(str(none), local_files_only=True)
    assert plain.config.intermediate_size == 32
    assert not torch.equal(plain.model.layers[0].mlp.down_proj.weight, model.model.layers[0].mlp.down_proj.weight)


def test_pruned_widths_stay_aligned_so_w4a16_groups_fit(examples: ExampleBuilder, tokenizer, tmp_path: Path) -> None:
    """30% of 64 neurons keeps 44, which no W4A16 group size (>= 8) divides; the recipe's default keeps 40."""
    from transformers import AutoModelForCausalLM

    from compression.quantize import fitted_group_size

    student = write_tiny_checkpoint(tokenizer, tmp_path / "student")
    widths = {}
    for multiple in (1, 8):
        spec = PruneRecipeConfig(mlp_sparsity=0.3, recovery="none", num_calibration=4, neuron_multiple=multiple)
        out = prune_and_recover(student, examples, tmp_path / f"m{multiple}", spec)
        widths[multiple] = AutoModelForCausalLM.from_pretrained(str(out), local_files_only=True)
    assert widths[1].config.intermediate_size == 44 and widths[8].config.intermediate_size == 40
    assert PruneRecipeConfig().neuron_multiple == DEFAULTS.neuron_multiple
    assert fitted_group_size(widths[8], 128) == 8
    with pytest.raises(ValueError, match="neuron multiple"):
        fitted_group_size(widths[1], 128)
