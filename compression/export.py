"""Write quantized weights as a compressed-tensors checkpoint (what llm-compressor writes; SGLang/vLLM load it).

The checkpoint is the model's own config.json plus `quantization_config`, and one model.safetensors in
which every quantized Linear's `weight` is replaced by its stored form (see ranking.quantized_linear for
the tensor names). Everything else (embeddings, norms, lm_head) keeps the model dtype.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from compression.quantize import QuantizedLayer
from ranking.quantized_linear import QuantizationScheme

# Files a serving checkpoint carries besides weights and config (tokenizer, prompt budgets).
SIDE_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "generation_config.json",
    "slmrank.json",
    "vocab.json",
    "merges.txt",
)


def pack_int32(levels: torch.Tensor, num_bits: int) -> torch.Tensor:
    """Signed levels int8 [out, in] -> offset-binary packed along the input dim int32 [out, ceil(in·b/32)]."""
    if 32 % num_bits:
        raise ValueError(f"packing supports bit widths dividing 32, got {num_bits}")
    per_word = 32 // num_bits
    out, num_in = levels.shape
    padded = -(-num_in // per_word) * per_word
    unsigned = levels.to(torch.int64) + (1 << (num_bits - 1))
    unsigned = torch.nn.functional.pad(unsigned, (0, padded - num_in))
    shifts = torch.arange(per_word, dtype=torch.int64) * num_bits
    words = (unsigned.reshape(out, -1, per_word) << shifts).sum(dim=-1)
    # Words above 2^31 wrap to negative int32, which is exactly the bit pattern wanted.
    return torch.where(words >= 2**31, words - 2**32, words).to(torch.int32)


def layer_tensors(
    name: str, layer: QuantizedLayer, scheme: QuantizationScheme, scale_dtype: torch.dtype
) -> dict[str, torch.Tensor]:
    """The stored tensors of one quantized Linear, fully named."""
    layer = QuantizedLayer(layer.values.cpu(), layer.scale.cpu(), None if layer.bias is None else layer.bias.cpu())
    scale = layer.scale.to(scale_dtype).contiguous()
    if scheme.format == "pack-quantized":
        tensors = {
            f"{name}.weight_packed": pack_int32(layer.values, scheme.weights.num_bits),
            f"{name}.weight_shape": torch.tensor(list(layer.values.shape), dtype=torch.int64),
        }
    else:
        tensors = {f"{name}.weight": layer.values.contiguous()}
    tensors[f"{name}.weight_scale"] = scale
    if layer.bias is not None:
        tensors[f"{name}.bias"] = layer.bias.contiguous()
    return tensors


def export_compressed(
    model: nn.Module,
    layers: dict[str, QuantizedLayer],
    scheme: QuantizationScheme,
    out_dir: str | Path,
    source_dir: str | Path | None = None,
) -> Path:
    """Write `model` with `layers` replaced by their quantized form to out_dir; returns out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dtype = next(model.parameters()).dtype
    state = model.state_dict()
    if getattr(model.config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)  # tied: the loader re-ties it to the embedding
    tensors = {k: v.detach().cpu().clone().contiguous() for k, v in state.items() if k.rsplit(".", 1)[0] not in layers}
    for name, layer in layers.items():
        tensors.update(layer_tensors(name, layer, scheme, dtype))
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    model_config: Any = model.config
    config = model_config.to_dict()
    config["quantization_config"] = scheme.to_config()
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    if source_dir is not None:
        for name in SIDE_FILES:
            if (Path(source_dir) / name).exists():
                shutil.copy2(Path(source_dir) / name, out / name)
    return out


def checkpoint_bytes(model_dir: str | Path) -> int:
    """Bytes of a checkpoint's weight files."""
    return sum(p.stat().st_size for p in Path(model_dir).glob("*.safetensors"))
