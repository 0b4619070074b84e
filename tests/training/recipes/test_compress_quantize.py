"""Quantized exports of a trained-shape checkpoint: written, loaded by ranking's loader, scored like the dense model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from compression.quantize import fitted_group_size
from training.data.example_builder import ExampleBuilder
from training.evaluation.evaluator import evaluate_checkpoint
from training.recipes.compress_quantize import QuantizeRecipeConfig, eval_groups, quantize_checkpoint

from .test_compress_recovery import PROMPT, SHAPE, write_tiny_checkpoint

# Score drift allowed per scheme on a random tiny model (log-odds, relative to their spread).
MAX_RELATIVE_DRIFT = {"fp8_dynamic": 0.1, "w8a8_int8": 0.1, "w4a16": 0.5}


@pytest.fixture(scope="module")
def examples(split, tokenizer) -> ExampleBuilder:
    torch.set_num_threads(1)
    return ExampleBuilder(split, tokenizer, PROMPT, ["like", "love"], group_size=3)


def scores(model_dir: Path, groups) -> np.ndarray:
    """Log-odds of every candidate through ranking's loader and the training evaluator."""
    from ranking.labels import resolve_all
    from ranking.model_loader import load_checkpoint
    from tests.tiny_checkpoint import TASKS
    from training.evaluation.evaluator import score_model

    loaded = load_checkpoint(model_dir, device="cpu", dtype="float32")
    labels = resolve_all(loaded.tokenizer, TASKS.values(), loaded.vocab_size)
    return np.concatenate([score_model(loaded.model, g, labels, loaded.tokenizer.pad_token_id).scores for g in groups])


def test_fitted_group_size_divides_every_width(tokenizer) -> None:
    from training.model_factory import build_model

    model = build_model(SHAPE, tokenizer, 0)  # input widths 32 (hidden, heads x head_dim) and 64 (MLP)
    assert fitted_group_size(model, 128) == 32
    assert fitted_group_size(model, 16) == 16


@pytest.mark.parametrize("scheme", ["fp8_dynamic", "w8a8_int8", "w4a16"])
def test_quantized_export_evaluates_close_to_dense(scheme: str, examples, tokenizer, tmp_path: Path) -> None:
    from ranking.model_loader import is_quantized_checkpoint

    student = write_tiny_checkpoint(tokenizer, tmp_path / "student")
    info = quantize_checkpoint(student, examples, tmp_path / scheme, QuantizeRecipeConfig(scheme, num_calibration=4))
    assert is_quantized_checkpoint(tmp_path / scheme)
    assert info["bytes"] < sum(p.stat().st_size for p in student.glob("*.safetensors"))
    if scheme == "w4a16":
        assert info["group_size"] == 32
    groups = eval_groups(examples, max_members=3)
    result = evaluate_checkpoint(tmp_path / scheme, groups)
    assert result["is_quantized"] and 0.0 <= result["mean_auc"] <= 1.0
    dense, quant = scores(student, groups.values()), scores(tmp_path / scheme, groups.values())
    assert dense.shape == quant.shape
    assert np.abs(quant - dense).max() <= MAX_RELATIVE_DRIFT[scheme] * (dense.std() + 1e-6) + 1e-4
    assert not np.array_equal(dense, quant)  # it really ran the quantized weights
