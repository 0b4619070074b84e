"""Physically pruned checkpoints against the masked dense model; refits against no refit."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import AutoModelForCausalLM

from compression.osscar import OsscarConfig
from compression.structured_prune import PruneConfig, gradual_prune, gradual_sparsities, prune_model
from tests.reference.compression_masked_model import mask_model

FAST = OsscarConfig(num_greedy_steps=16, max_swap_rounds=4, swap_candidates=4)


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits


@pytest.mark.parametrize("head_scheme", ["per_kv_group", "kv_groups"])
def test_pruned_checkpoint_equals_masked_dense(tiny_qwen3, token_sequences, tmp_path, head_scheme):
    dense = copy.deepcopy(tiny_qwen3)
    config = PruneConfig(mlp_sparsity=0.25, head_sparsity=0.5, head_scheme=head_scheme, method="magnitude", refit=False)
    report = prune_model(tiny_qwen3, token_sequences, config)
    tiny_qwen3.save_pretrained(tmp_path)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path, local_files_only=True).eval()
    expected_heads, expected_kv = (2, 2) if head_scheme == "per_kv_group" else (2, 1)
    assert loaded.config.intermediate_size == 36
    assert (loaded.config.num_attention_heads, loaded.config.num_key_value_heads) == (expected_heads, expected_kv)
    assert loaded.config.head_dim == 16
    mask_model(dense, report.layers, head_dim=16, heads_per_group=2)
    if head_scheme == "kv_groups":
        # Dropping a KV group also drops its k/v; masking the group's query heads in o_proj is equivalent.
        assert all(len(r.kept) == 1 for r in report.layers if r.kind == "attention")
    ids = token_sequences[0]
    torch.testing.assert_close(_logits(loaded, ids), _logits(dense, ids), rtol=1e-5, atol=1e-5)


def test_refit_lowers_layerwise_error(tiny_qwen3, token_sequences):
    plain_model, refit_model = copy.deepcopy(tiny_qwen3), copy.deepcopy(tiny_qwen3)
    base = dict(mlp_sparsity=0.5, head_sparsity=0.5, method="wanda")
    plain = prune_model(plain_model, token_sequences, PruneConfig(**base, refit=False))
    refit = prune_model(refit_model, token_sequences, PruneConfig(**base, refit=True))
    for p, r in zip(plain.layers, refit.layers, strict=True):
        assert p.kept == r.kept
        assert r.relative_error < p.relative_error


def test_osscar_beats_baselines_per_layer(tiny_qwen3, token_sequences):
    errors = {}
    for method in ("osscar", "magnitude", "wanda"):
        model = copy.deepcopy(tiny_qwen3)
        config = PruneConfig(mlp_sparsity=0.4, head_sparsity=0.5, method=method, refit=False, osscar=FAST)
        errors[method] = [r.relative_error for r in prune_model(model, token_sequences, config).layers]
    for i, e in enumerate(errors["osscar"]):
        assert e <= min(errors["magnitude"][i], errors["wanda"][i]) + 1e-12


def test_sequential_mode_and_neuron_multiple(tiny_qwen3, token_sequences):
    config = PruneConfig(mlp_sparsity=0.3, head_sparsity=0.5, sequential=True, neuron_multiple=8, osscar=FAST)
    report = prune_model(tiny_qwen3, token_sequences, config)
    assert tiny_qwen3.config.intermediate_size == 32  # 48 * 0.7 = 33.6 -> 33 -> multiple of 8
    assert len(report.layers) == 4 and report.mean_error("mlp") > 0
    out = _logits(tiny_qwen3, token_sequences[1])
    assert torch.isfinite(out).all()
    assert report.to_dict()["config"]["mlp_sparsity"] == 0.3


def test_config_validation():
    with pytest.raises(ValueError, match="head_scheme"):
        PruneConfig(head_scheme="bad")
    with pytest.raises(ValueError, match="method"):
        PruneConfig(method="random")
    with pytest.raises(ValueError, match="mlp_sparsity"):
        PruneConfig(mlp_sparsity=1.0)


def test_gradual_sparsities_compose_to_final():
    steps = gradual_sparsities(0.4, 2)
    assert steps == pytest.approx([0.2, 0.25])
    remaining = 1.0
    for s in gradual_sparsities(0.5, 5):
        remaining *= 1 - s
    assert remaining == pytest.approx(0.5)
    with pytest.raises(ValueError):
        gradual_sparsities(0.4, 0)


def test_gradual_prune_reaches_final_widths_and_calls_back(tiny_qwen3, token_sequences):
    widths = []
    config = PruneConfig(mlp_sparsity=0.5, head_sparsity=0.5, osscar=FAST)
    reports = gradual_prune(
        tiny_qwen3,
        token_sequences,
        config,
        num_steps=2,
        after_step=lambda m, i: widths.append((i, m.model.layers[0].mlp.down_proj.in_features)),
    )
    assert widths == [(0, 36), (1, 24)]
    assert len(reports) == 2
    assert (tiny_qwen3.config.intermediate_size, tiny_qwen3.config.num_attention_heads) == (24, 2)
