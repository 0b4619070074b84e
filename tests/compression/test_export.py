"""quantize -> export -> load round trips, int4 packing, and the compressed-tensors library's own reader."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from compression.export import checkpoint_bytes, export_compressed, pack_int32
from compression.quantize import QuantizeConfig, quantize_model
from ranking.quantized_linear import QuantizedLinear, load_quantized_model, unpack_int32

CT_PYTHON = Path(__file__).resolve().parents[2] / ".venv-ct" / "bin" / "python"
SCHEMES = ["fp8_dynamic", "w8a8_int8", "w4a16"]


@pytest.mark.parametrize("num_bits", [4, 8, 2])
@pytest.mark.parametrize("num_in", [16, 11])
def test_pack_unpack_round_trip(num_bits, num_in):
    gen = torch.Generator().manual_seed(num_bits + num_in)
    half = 2 ** (num_bits - 1)
    levels = torch.randint(-half, half, (5, num_in), generator=gen, dtype=torch.int8)
    packed = pack_int32(levels, num_bits)
    assert packed.dtype == torch.int32 and packed.shape == (5, -(-num_in * num_bits // 32))
    assert torch.equal(unpack_int32(packed, num_bits, (5, num_in)), levels)


def _export(model, sequences, scheme, out: Path):
    config = QuantizeConfig(scheme=scheme, group_size=16)
    layers = quantize_model(model, sequences, config)
    export_compressed(model, layers, config.to_scheme(), out)
    return layers


@pytest.mark.parametrize("scheme", SCHEMES)
def test_export_load_round_trip(tiny_qwen3, token_sequences, tmp_path, scheme):
    dense = copy.deepcopy(tiny_qwen3)
    layers = _export(tiny_qwen3, token_sequences, scheme, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())["quantization_config"]
    assert (
        config["format"]
        == {"fp8_dynamic": "float-quantized", "w8a8_int8": "int-quantized", "w4a16": "pack-quantized"}[scheme]
    )
    loaded = load_quantized_model(tmp_path, simulate_activations=False)
    for name, layer in layers.items():
        module = loaded.get_submodule(name)
        assert isinstance(module, QuantizedLinear)
        torch.testing.assert_close(module.weight, layer.dequantize(), rtol=0, atol=0)
    # tiny_qwen3 is smoothed in place for INT8: the loaded norms must be the smoothed ones.
    torch.testing.assert_close(
        loaded.model.layers[0].input_layernorm.weight, tiny_qwen3.model.layers[0].input_layernorm.weight
    )
    ids = torch.tensor([token_sequences[0]])
    with torch.no_grad():
        got = torch.log_softmax(load_quantized_model(tmp_path)(ids).logits, -1)
        want = torch.log_softmax(dense(ids).logits, -1)
    tolerance = {"fp8_dynamic": 0.05, "w8a8_int8": 0.05, "w4a16": 0.3}[scheme]
    assert float((got - want).abs().max()) < tolerance
    assert checkpoint_bytes(tmp_path) > 0


def test_checkpoint_sizes_shrink(tiny_qwen3, token_sequences, tmp_path):
    sizes = {}
    for scheme in SCHEMES:
        _export(copy.deepcopy(tiny_qwen3), token_sequences, scheme, tmp_path / scheme)
        sizes[scheme] = checkpoint_bytes(tmp_path / scheme)
    tiny_qwen3.save_pretrained(tmp_path / "dense")
    dense = checkpoint_bytes(tmp_path / "dense")
    assert sizes["w4a16"] < sizes["fp8_dynamic"] < dense
    assert sizes["w8a8_int8"] < dense


def test_load_rejects_unquantized_checkpoint(tiny_qwen3, tmp_path):
    from ranking.quantized_linear import QuantizedCheckpointError

    tiny_qwen3.save_pretrained(tmp_path)
    with pytest.raises(QuantizedCheckpointError, match="no quantization_config"):
        load_quantized_model(tmp_path)


@pytest.mark.skipif(not CT_PYTHON.exists(), reason="needs the separate compressed-tensors venv (.venv-ct)")
def test_compressed_tensors_library_decompresses_our_export(tiny_qwen3, token_sequences, tmp_path):
    args = []
    for scheme in SCHEMES:
        layers = _export(copy.deepcopy(tiny_qwen3), token_sequences, scheme, tmp_path / scheme)
        expected = {name: layer.dequantize().contiguous() for name, layer in layers.items()}
        save_file(expected, str(tmp_path / f"{scheme}.safetensors"))
        torch.save(torch.tensor([token_sequences[0]]), tmp_path / scheme / "ids.pt")
        args += [str(tmp_path / scheme), str(tmp_path / f"{scheme}.safetensors")]
    script = Path(__file__).resolve().parents[1] / "reference" / "compression_ct_decompress.py"
    result = subprocess.run([str(CT_PYTHON), str(script), *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("OK") == len(SCHEMES)
    for scheme in SCHEMES:
        # transformers' own loader (with compressed-tensors installed) computes what ours computes.
        with torch.no_grad():
            ours = load_quantized_model(tmp_path / scheme)(torch.tensor([token_sequences[0]])).logits
        torch.testing.assert_close(torch.load(tmp_path / scheme / "hf_logits.pt"), ours, rtol=1e-5, atol=1e-5)
