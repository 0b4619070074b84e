"""SmoothQuant's migration keeps the network's function and flattens activation outliers."""

from __future__ import annotations

import copy

import torch

from compression.calibration import Calibration, CalibrationConfig
from compression.smooth_quant import smooth_decoder_layer, smoothing_scales
from ranking.decoder_layout import LAYOUTS


def test_scales_formula():
    act = torch.tensor([4.0, 1.0, 0.0], dtype=torch.float64)
    w = torch.tensor([[1.0, 2.0, 3.0], [-0.5, 4.0, 1.0]])
    s = smoothing_scales(act, [w], alpha=0.5)
    torch.testing.assert_close(s[:2], torch.tensor([4.0**0.5 / 1.0**0.5, 1.0 / 4.0**0.5], dtype=torch.float64))
    assert float(s[2]) == 1.0  # dead channel: no migration


def test_smoothing_preserves_outputs_and_reduces_outliers(tiny_qwen3, token_sequences):
    with torch.no_grad():
        tiny_qwen3.model.layers[0].input_layernorm.weight[3] = 20.0  # an outlier channel
    dense = copy.deepcopy(tiny_qwen3)
    config = CalibrationConfig(targets=("self_attn.q_proj", "mlp.gate_proj", "mlp.down_proj"), track_absmax=True)
    calibration = Calibration.capture(tiny_qwen3, token_sequences, config)
    for i, layer in enumerate(tiny_qwen3.model.layers):
        stats = {
            k: calibration.stats[f"model.layers.{i}.{t}"].absmax
            for k, t in (("attn", "self_attn.q_proj"), ("mlp", "mlp.gate_proj"), ("down", "mlp.down_proj"))
        }
        smooth_decoder_layer(layer, LAYOUTS["qwen3"], stats, alpha=0.8)
    ids = torch.tensor([token_sequences[0]])
    with torch.no_grad():
        torch.testing.assert_close(tiny_qwen3(ids).logits, dense(ids).logits, rtol=1e-4, atol=1e-5)
    after = Calibration.capture(tiny_qwen3, token_sequences, config)
    name = "model.layers.0.self_attn.q_proj"
    ratio = lambda a: float(a.max() / a.median())  # noqa: E731
    assert ratio(after.stats[name].absmax) < ratio(calibration.stats[name].absmax)
