"""The compressed-tensors loader: format parsing, int4 unpacking, dequantization and the FP8 GPU path."""

from __future__ import annotations

import pytest
import torch

from ranking.quantized_linear import (
    QuantArgs,
    QuantizationScheme,
    QuantizedCheckpointError,
    QuantizedLinear,
    dequantize_weight,
    quantize_activations,
    unpack_int32,
)

W4A16 = QuantizationScheme("pack-quantized", QuantArgs(4, "int", "group", group_size=4))
FP8 = QuantizationScheme(
    "float-quantized", QuantArgs(8, "float", "channel"), QuantArgs(8, "float", "token", dynamic=True)
)


def test_scheme_config_round_trip():
    for scheme in (W4A16, FP8):
        assert QuantizationScheme.from_config(scheme.to_config()) == scheme
    config = FP8.to_config()
    assert config["quant_method"] == "compressed-tensors" and config["ignore"] == ["lm_head"]
    assert config["config_groups"]["group_0"]["targets"] == ["Linear"]


@pytest.mark.parametrize("change", [{"quant_method": "gptq"}, {"format": "marlin"}, {"config_groups": {}}])
def test_scheme_rejects_unsupported(change):
    with pytest.raises(QuantizedCheckpointError):
        QuantizationScheme.from_config({**FP8.to_config(), **change})


def test_unpack_known_bit_layout():
    # Value v sits offset-binary (v + 8) at bits 4·i of the word: levels 0..7 then -8..-1.
    levels = list(range(-8, 8))
    words = [sum(((v + 8) & 0xF) << (4 * i) for i, v in enumerate(levels[j : j + 8])) for j in (0, 8)]
    packed = torch.tensor([[w - 2**32 if w >= 2**31 else w for w in words]], dtype=torch.int32)
    assert unpack_int32(packed, 4, (1, 16)).tolist() == [levels]
    assert unpack_int32(packed, 4, (1, 11)).tolist() == [levels[:11]]


def test_dequantize_grouped_and_channel():
    levels = torch.tensor([[1, -2, 3, 7, -8, 0, 2, 1]], dtype=torch.int8)
    words = sum(((int(v) + 8) & 0xF) << (4 * i) for i, v in enumerate(levels[0]))
    packed = torch.tensor([[words - 2**32 if words >= 2**31 else words]], dtype=torch.int32)
    scale = torch.tensor([[0.5, 2.0]])
    got = dequantize_weight(
        {"weight_packed": packed, "weight_scale": scale, "weight_shape": torch.tensor([1, 8])}, W4A16, torch.float32
    )
    torch.testing.assert_close(got, levels.float() * torch.tensor([[0.5] * 4 + [2.0] * 4]))
    w8 = torch.tensor([[1.5, -2.0], [0.25, 448.0]]).to(torch.float8_e4m3fn)
    got = dequantize_weight({"weight": w8, "weight_scale": torch.tensor([[2.0], [0.5]])}, FP8, torch.float32)
    torch.testing.assert_close(got, torch.tensor([[3.0, -4.0], [0.125, 224.0]]))


def test_activation_quantization_error_bounds():
    x = torch.randn(5, 64)
    for args, bound in (
        (QuantArgs(8, "int", "token", dynamic=True), 1 / 127.5),
        (QuantArgs(8, "float", "token", dynamic=True), 1 / 16),
    ):
        err = (quantize_activations(x, args) - x).abs()
        assert (err <= bound * x.abs().amax(dim=-1, keepdim=True) + 1e-7).all()


def test_quantized_linear_matches_plain_linear_without_activation_quant():
    w, b, x = torch.randn(6, 8), torch.randn(6), torch.randn(3, 8)
    torch.testing.assert_close(QuantizedLinear(w, b, None)(x), torch.nn.functional.linear(x, w, b))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fp8_scaled_mm_matches_simulation():
    from ranking.quantized_linear import has_fp8_gemm

    device = torch.device("cuda")
    if not has_fp8_gemm(device):
        pytest.skip("GPU has no FP8 GEMM")
    w = torch.randn(64, 128)
    scale = w.abs().amax(dim=1, keepdim=True) / 448.0
    w8 = (w / scale).to(torch.float8_e4m3fn)
    deq = w8.float() * scale
    act = QuantArgs(8, "float", "token", dynamic=True)
    x = torch.randn(32, 128, dtype=torch.bfloat16)
    sim = QuantizedLinear(deq, None, act)(x.float())
    gpu = QuantizedLinear(deq.cuda(), None, act, fp8=(w8.cuda(), scale.cuda()))(x.cuda())
    torch.testing.assert_close(gpu.float().cpu(), sim, rtol=2e-2, atol=2e-2)
