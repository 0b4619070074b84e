"""Decompress one of our exports with the compressed-tensors library itself (run in .venv-ct).

Usage: .venv-ct/bin/python tests/reference/compression_ct_decompress.py CKPT_DIR EXPECTED.safetensors [...]
EXPECTED holds the dequantized weight each quantized Linear should decompress to (our own dequantizer's
view). Takes any number of (CKPT_DIR, EXPECTED) pairs; prints "OK <max abs diff> <num layers>" per pair
or exits non-zero. When CKPT_DIR/ids.pt exists, the checkpoint is also loaded by transformers' own
compressed-tensors integration and its logits on those ids are saved to CKPT_DIR/hf_logits.pt.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from compressed_tensors.compressors.base import BaseCompressor
from compressed_tensors.quantization import QuantizationConfig
from safetensors.torch import load_file


def main(ckpt: str, expected_path: str) -> None:
    config = json.loads((Path(ckpt) / "config.json").read_text())["quantization_config"]
    qconfig = QuantizationConfig.model_validate(config)  # the library's own schema check
    scheme = qconfig.config_groups["group_0"]
    compressor = BaseCompressor.get_value_from_registry(qconfig.format)
    tensors = load_file(str(Path(ckpt) / "model.safetensors"))
    expected = load_file(expected_path)
    worst = 0.0
    for name, want in expected.items():
        local = {k[len(name) + 1 :]: v for k, v in tensors.items() if k.rsplit(".", 1)[0] == name}
        got = compressor.decompress(local, scheme)["weight"].float()
        worst = max(worst, float((got - want.float()).abs().max()))
    if worst > 1e-6:
        raise SystemExit(f"MISMATCH max abs diff {worst}")
    print(f"OK {worst} {len(expected)}")
    if (Path(ckpt) / "ids.pt").exists():
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(ckpt, local_files_only=True, dtype=torch.float32).eval()
        with torch.no_grad():
            logits = model(torch.load(Path(ckpt) / "ids.pt")).logits
        torch.save(logits, Path(ckpt) / "hf_logits.pt")


if __name__ == "__main__":
    torch.set_num_threads(1)
    pairs = sys.argv[1:]
    for i in range(0, len(pairs), 2):
        main(pairs[i], pairs[i + 1])
