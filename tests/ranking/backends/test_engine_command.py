"""Engine command lines: the contract's SGLang flags, FP8 detection, the vLLM CPU recipe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compression.quantize import SCHEMES, QuantizeConfig
from ranking.backends.engine_command import is_fp8_checkpoint, sglang_command, vllm_cpu_command

CONTRACT = (
    "--attention-backend flashinfer --enable-metrics --mem-fraction-static 0.85 --chunked-prefill-size 8192 "
    "--schedule-policy lpm --skip-tokenizer-init --log-level warning"
)


def checkpoint(tmp_path: Path, quant: dict | None = None) -> Path:
    config = {"architectures": ["Qwen3ForCausalLM"]}
    if quant is not None:
        config["quantization_config"] = quant
    (tmp_path / "config.json").write_text(json.dumps(config))
    return tmp_path


def test_sglang_command_has_the_contract_flags_and_online_fp8(tmp_path):
    command = sglang_command(checkpoint(tmp_path), tp=4)
    line = " ".join(command.argv)
    assert line.startswith("python3 -m sglang.launch_server --model-path")
    assert CONTRACT in line and "--tp-size 4" in line and "--port 30000" in line
    assert line.endswith("--quantization fp8") and "--disable-radix-cache" not in line


@pytest.mark.parametrize(
    "quant",
    [
        {"quant_method": "fp8"},
        {"quant_method": "compressed-tensors", "config_groups": {"g0": {"weights": {"num_bits": 8, "type": "float"}}}},
    ],
)
def test_prequantized_fp8_checkpoint_gets_no_quantization_flag(tmp_path, quant):
    model = checkpoint(tmp_path, quant)
    assert is_fp8_checkpoint(model)
    assert "--quantization" not in sglang_command(model).argv


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_export_scheme_runs_as_stored(tmp_path, scheme):
    """SGLang refuses `--quantization fp8` on a compressed-tensors INT8 or W4A16 checkpoint."""
    model = checkpoint(tmp_path, QuantizeConfig(scheme=scheme).to_scheme().to_config())
    assert "--quantization" not in sglang_command(model).argv


def test_any_quantization_config_means_no_flag(tmp_path):
    assert "--quantization" not in sglang_command(checkpoint(tmp_path, {"quant_method": "awq"})).argv


def test_int8_compressed_tensors_is_not_fp8(tmp_path):
    quant = {"quant_method": "compressed-tensors", "config_groups": {"g0": {"weights": {"num_bits": 8, "type": "int"}}}}
    assert not is_fp8_checkpoint(checkpoint(tmp_path, quant))


def test_bad_tp_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="tp"):
        sglang_command(checkpoint(tmp_path), tp=0)


def test_vllm_cpu_command_follows_the_recipe(tmp_path):
    command = vllm_cpu_command(tmp_path, "tiny", port=9000, work_dir=tmp_path)
    assert command.argv[1:3] == ("-m", "vllm.entrypoints.openai.api_server")  # not the broken `vllm` script
    for flag in ("--enable-prefix-caching", "--enable-prompt-tokens-details", "--enforce-eager"):
        assert flag in command.argv
    assert command.env["VLLM_CPU_OMP_THREADS_BIND"] == "0-1" and command.env["VLLM_CPU_NUM_OF_RESERVED_CPU"] == "0"
    assert command.env["VLLM_CACHE_ROOT"].startswith(str(tmp_path)) and command.env["HF_HUB_OFFLINE"] == "1"
    assert "VLLM_CPU_KVCACHE_SPACE=1" in command.shell()
