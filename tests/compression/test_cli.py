"""`slmrank compress prune|quantize` end to end on a tiny saved checkpoint."""

from __future__ import annotations

import argparse
import json

import pytest
import torch
from transformers import AutoModelForCausalLM

from compression import cli
from ranking.quantized_linear import load_quantized_model


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


@pytest.fixture
def checkpoint(tiny_qwen3, tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.train_from_iterator(["the old man walked to the market"] * 4, trainers.BpeTrainer(vocab_size=120))
    path = tmp_path / "dense"
    tiny_qwen3.save_pretrained(path)
    PreTrainedTokenizerFast(tokenizer_object=bpe).save_pretrained(path)
    (path / "slmrank.json").write_text(json.dumps({"prompt": {"max_prefix_len": 512}}))
    return path


def test_prune_command_writes_loadable_smaller_checkpoint(checkpoint, tmp_path):
    out = tmp_path / "pruned"
    calib = tmp_path / "calib.jsonl"
    calib.write_text(
        "\n".join(json.dumps(x) for x in ([1, 2, 3, 4, 5, 6], {"input_ids": [7, 8, 9, 10]}, {"text": "the old man"}))
        + "\n"
    )
    argv = [
        "compress",
        "prune",
        "--model",
        str(checkpoint),
        "--out",
        str(out),
        "--calibration",
        str(calib),
        "--mlp-sparsity",
        "0.25",
        "--head-sparsity",
        "0.5",
        "--neuron-multiple",
        "4",
    ]
    assert _run(argv) == 0
    model = AutoModelForCausalLM.from_pretrained(out, local_files_only=True)
    assert model.config.intermediate_size == 36 and model.config.num_attention_heads == 2
    assert (out / "slmrank.json").exists() and (out / "tokenizer.json").exists()
    assert json.loads((out / "compression.json").read_text())["prune"]["config"]["method"] == "osscar"


@pytest.mark.parametrize("scheme", ["fp8_dynamic", "w4a16"])
def test_quantize_command_writes_compressed_tensors(checkpoint, tmp_path, scheme):
    out = tmp_path / scheme
    argv = [
        "compress",
        "quantize",
        "--model",
        str(checkpoint),
        "--out",
        str(out),
        "--scheme",
        scheme,
        "--group-size",
        "16",
        "--num-calibration",
        "4",
        "--max-seq-len",
        "64",
    ]
    assert _run(argv) == 0
    model = load_quantized_model(out)
    with torch.no_grad():
        assert torch.isfinite(model(torch.tensor([[1, 2, 3]])).logits).all()
    assert (out / "slmrank.json").exists()


def test_unsupported_architecture_is_refused_in_one_line(tmp_path, capsys):
    from tests.tiny_architectures import tiny_model

    tiny_model("qwen3_moe").save_pretrained(tmp_path / "moe")
    with pytest.raises(SystemExit) as exit_info:
        _run(["compress", "quantize", "--model", str(tmp_path / "moe"), "--out", str(tmp_path / "q")])
    message = str(exit_info.value)
    assert message.count("\n") == 0 and "'qwen3_moe'" in message and "supported: llama" in message
    assert not (tmp_path / "q").exists()


def test_defaults_come_from_compress_config_and_dtype_is_kept(checkpoint, tmp_path):
    """A bf16 checkpoint pruned with the defaults comes out bf16, widths rounded to DEFAULTS.neuron_multiple."""
    from compression.compress_config import DEFAULTS

    bf16 = tmp_path / "bf16"
    model = AutoModelForCausalLM.from_pretrained(checkpoint, local_files_only=True).to(torch.bfloat16)
    model.save_pretrained(bf16)
    for name in ("tokenizer.json", "tokenizer_config.json", "slmrank.json"):
        if (checkpoint / name).exists():
            (bf16 / name).write_bytes((checkpoint / name).read_bytes())
    out = tmp_path / "pruned-bf16"
    base = ["compress", "prune", "--model", str(bf16), "--num-calibration", "4", "--mlp-sparsity", "0.25"]
    assert _run([*base, "--out", str(out)]) == 0
    pruned = AutoModelForCausalLM.from_pretrained(out, local_files_only=True)
    assert json.loads((out / "config.json").read_text())["dtype"] == "bfloat16"
    assert pruned.config.intermediate_size == 48 // DEFAULTS.neuron_multiple * DEFAULTS.neuron_multiple
    assert _run([*base, "--out", str(tmp_path / "fp32"), "--dtype", "float32"]) == 0
    assert json.loads((tmp_path / "fp32" / "config.json").read_text())["dtype"] == "float32"


def test_w4a16_group_size_fits_the_widths_or_is_refused(checkpoint, tmp_path, capsys):
    base = ["compress", "quantize", "--model", str(checkpoint), "--scheme", "w4a16", "--num-calibration", "4"]
    assert _run([*base, "--out", str(tmp_path / "auto")]) == 0
    assert "group size 16" in capsys.readouterr().out  # widths 32 and 48: 16 is the largest that divides both
    with pytest.raises(SystemExit) as exit_info:
        _run([*base, "--out", str(tmp_path / "bad"), "--group-size", "32"])
    assert "not a multiple of group_size 32" in str(exit_info.value) and "\n" not in str(exit_info.value)
