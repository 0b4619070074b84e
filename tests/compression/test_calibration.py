"""Calibration Gram matrices against inputs captured plainly."""

from __future__ import annotations

import pytest
import torch

from compression.calibration import (
    ATTENTION_TARGET,
    MLP_TARGET,
    Calibration,
    CalibrationConfig,
    encode_texts,
    generic_text,
)


def test_gram_equals_sum_of_outer_products(tiny_qwen3, token_sequences):
    seen: list[torch.Tensor] = []
    down = tiny_qwen3.model.layers[1].mlp.down_proj
    handle = down.register_forward_hook(lambda m, i, o: seen.append(i[0].reshape(-1, i[0].shape[-1])))
    calibration = Calibration.capture(tiny_qwen3, token_sequences, CalibrationConfig(track_absmax=True))
    handle.remove()
    x = torch.cat(seen).double()
    stats = calibration.stats["model.layers.1.mlp.down_proj"]
    torch.testing.assert_close(stats.gram, x.T @ x, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(stats.absmax, x.abs().amax(dim=0))
    assert stats.num_tokens == sum(len(s) for s in token_sequences) == calibration.num_tokens
    assert calibration.num_sequences == len(token_sequences)


def test_targets_and_layers_select_modules(tiny_qwen3, token_sequences):
    config = CalibrationConfig(targets=(ATTENTION_TARGET,), layer_indices=(0,))
    calibration = Calibration.capture(tiny_qwen3, token_sequences, config)
    assert list(calibration.stats) == ["model.layers.0.self_attn.o_proj"]
    assert calibration.gram("model.layers.0.self_attn.o_proj").shape == (64, 64)
    with pytest.raises(KeyError):
        calibration.gram("model.layers.1." + MLP_TARGET)


def test_hooks_are_removed_and_bad_input_rejected(tiny_qwen3, token_sequences):
    Calibration.capture(tiny_qwen3, token_sequences)
    assert all(not m._forward_hooks for m in tiny_qwen3.modules())
    with pytest.raises(ValueError, match="at least one"):
        Calibration.capture(tiny_qwen3, [[]])
    with pytest.raises(ValueError, match="no linear layers"):
        Calibration.capture(tiny_qwen3, token_sequences, CalibrationConfig(targets=("nope",)))


def test_max_seq_len_truncates(tiny_qwen3, token_sequences):
    calibration = Calibration.capture(tiny_qwen3, token_sequences, CalibrationConfig(max_seq_len=10))
    assert calibration.num_tokens == sum(min(len(s), 10) for s in token_sequences)


def test_generic_text_is_seeded_and_encodable():
    texts = generic_text(3, seed=7)
    assert texts == generic_text(3, seed=7) and texts != generic_text(3, seed=8)
    ids = encode_texts(lambda t: [ord(c) % 128 for c in t], texts, max_len=20)
    assert [len(i) for i in ids] == [20, 20, 20]
