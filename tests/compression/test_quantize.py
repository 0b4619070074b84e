"""Quantized weights against the originals, and GPTQ against round-to-nearest on a real (tiny) model."""

from __future__ import annotations

import copy

import pytest
import torch

from compression.calibration import Calibration, CalibrationConfig
from compression.gptq import layer_error
from compression.quantize import QuantizeConfig, fp8_quantize, quantize_model, rtn_quantize

# Relative Frobenius error ‖W − Ŵ‖ / ‖W‖ each scheme must stay under on Gaussian weights (GPTQ trades
# some weight-space error for lower output error, hence INT8 above the ~0.5% of plain rounding).
MAX_RELATIVE_ERROR = {"fp8_dynamic": 0.04, "w8a8_int8": 0.02, "w4a16": 0.15}


@pytest.mark.parametrize("scheme", ["fp8_dynamic", "w8a8_int8", "w4a16"])
def test_dequantized_weights_close_to_original(tiny_qwen3, token_sequences, scheme):
    dense = copy.deepcopy(tiny_qwen3)
    config = QuantizeConfig(scheme=scheme, group_size=16, smoothing_strength=0.0)
    layers = quantize_model(tiny_qwen3, token_sequences, config)
    assert len(layers) == 2 * 7
    for name, layer in layers.items():
        w = dense.get_submodule(name).weight.detach()
        rel = float((layer.dequantize() - w).norm() / w.norm())
        assert rel < MAX_RELATIVE_ERROR[scheme], name
    q = layers["model.layers.0.mlp.down_proj"]
    if scheme == "fp8_dynamic":
        assert q.values.dtype == torch.float8_e4m3fn and q.scale.shape == (32, 1)
    else:
        assert q.values.dtype == torch.int8
        assert q.scale.shape == ((32, 1) if scheme == "w8a8_int8" else (32, 3))


def test_gptq_beats_rtn_on_model_layers(tiny_qwen3, token_sequences):
    grams = Calibration.capture(
        tiny_qwen3, token_sequences, CalibrationConfig(targets=("mlp.down_proj", "self_attn.o_proj"))
    )
    config = QuantizeConfig(scheme="w4a16", group_size=16)
    gptq = quantize_model(copy.deepcopy(tiny_qwen3), token_sequences, config)
    total_gptq = total_rtn = 0.0
    for name, gram in grams.stats.items():
        w = tiny_qwen3.get_submodule(name).weight.detach()
        total_gptq += layer_error(w, gptq[name].dequantize(), gram.gram)
        levels, scale = rtn_quantize(w, 4, 16)
        total_rtn += layer_error(w, levels.double() * scale.double().repeat_interleave(16, dim=1), gram.gram)
    assert total_gptq < total_rtn


def test_smoothquant_changes_model_but_not_function(tiny_qwen3, token_sequences):
    dense = copy.deepcopy(tiny_qwen3)
    quantize_model(tiny_qwen3, token_sequences, QuantizeConfig(scheme="w8a8_int8", smoothing_strength=0.5))
    ids = torch.tensor([token_sequences[0]])
    norm = tiny_qwen3.model.layers[0].input_layernorm.weight
    assert not torch.allclose(norm, dense.model.layers[0].input_layernorm.weight)
    with torch.no_grad():
        torch.testing.assert_close(tiny_qwen3(ids).logits, dense(ids).logits, rtol=1e-4, atol=1e-5)


def test_fp8_is_exact_on_representable_values():
    w = torch.tensor([[448.0, -224.0, 1.0, 0.0]])
    values, scale = fp8_quantize(w)
    assert float(scale) == 1.0
    torch.testing.assert_close(values.float(), w)


def test_config_validation(tiny_qwen3, token_sequences):
    with pytest.raises(ValueError, match="scheme"):
        QuantizeConfig(scheme="int3")
    with pytest.raises(ValueError, match="group_size"):
        quantize_model(tiny_qwen3, token_sequences, QuantizeConfig(scheme="w4a16", group_size=128))
