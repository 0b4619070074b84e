"""Load a Hugging Face causal-LM checkpoint from a local directory (never from a hub)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ranking.card import CARD_FILE

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class CheckpointError(ValueError):
    """The model directory is missing or is not a loadable causal-LM checkpoint."""


@dataclass
class LoadedModel:
    """A model in eval mode on its device, with its tokenizer and what the server reports about it."""

    model: Any
    tokenizer: Any
    name: str
    vocab_size: int
    device: torch.device
    dtype: torch.dtype


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """torch ops inside run on the calling thread alone, so it starts no OpenMP team of its own: the embedded
    engine's worker thread should be the only one with a team (EmbeddedEngine.start says why)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA when present, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise CheckpointError(f"device {name!r} requested but CUDA is not available")
    return torch.device(name)


BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16", "bf16")  # x86 AMX / AVX512-BF16; "bf16" in an Arm CPU's Features


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True when the CPU multiplies bf16 in hardware (read from /proc/cpuinfo; False where it cannot be read)."""
    try:
        words = set(cpuinfo.read_text().split())
    except OSError:
        return False
    return any(flag in words for flag in BF16_CPU_FLAGS)


# Below this width the CPU's bf16 matmuls do not pay for the casts around them: the shipped model (hidden 96) runs
# its own workload 1.0-1.5x slower in bf16, hidden 256 is 1.1-1.4x faster, hidden 1024 2.2-2.9x
# (bench/results/cpu-dtype.md).
BF16_CPU_MIN_HIDDEN = 256


def resolve_dtype(name: str, device: torch.device, hidden_size: int | None = None) -> torch.dtype:
    """`auto` is bfloat16 on CUDA, and on a CPU with native bf16 for models at least BF16_CPU_MIN_HIDDEN wide
    (the shipped model's test AUC moves by -0.014% in bf16); float32 otherwise."""
    if name == "auto":
        is_wide = hidden_size is None or hidden_size >= BF16_CPU_MIN_HIDDEN
        is_fast_bf16 = device.type == "cuda" or (device.type == "cpu" and is_wide and cpu_has_native_bf16())
        return torch.bfloat16 if is_fast_bf16 else torch.float32
    try:
        return DTYPES[name]
    except KeyError:
        raise CheckpointError(f"dtype {name!r} not one of {sorted(DTYPES)}") from None


def checkpoint_name(model_dir: Path) -> str:
    """The name a checkpoint gives itself in its card, else its directory name."""
    card = model_dir / CARD_FILE
    if card.exists():
        name = json.loads(card.read_text()).get("model_name")
        if isinstance(name, str) and name:
            return name
    return model_dir.resolve().name


def hidden_size(model_dir: Path) -> int | None:
    """config.json's hidden_size (or its text_config's), None when it has neither."""
    config = json.loads((model_dir / "config.json").read_text())
    value = config.get("hidden_size") or config.get("text_config", {}).get("hidden_size")
    return int(value) if value else None


def is_quantized_checkpoint(model_dir: Path) -> bool:
    """True for a compressed-tensors export (config.json carries a quantization_config)."""
    config = json.loads((model_dir / "config.json").read_text())
    return isinstance(config.get("quantization_config"), dict)


def load_checkpoint(model_dir: str | Path, device: str = "auto", dtype: str = "auto") -> LoadedModel:
    """Tokenizer and model from `model_dir`, local files only, in eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(model_dir)
    if not (path / "config.json").exists():
        raise CheckpointError(f"{path} has no config.json; pass a save_pretrained model directory")
    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, dev, hidden_size(path))
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model: Any
    with one_torch_thread():  # loading is copies; compute belongs to the engine's worker thread
        if is_quantized_checkpoint(path):
            from ranking.quantized_linear import load_quantized_model

            # compressed-tensors exports (FP8 / INT8 / W4A16): dequantised on CPU, FP8 matmul on GPUs with it.
            model = load_quantized_model(path, dtype=torch_dtype, device=str(dev))
        else:
            model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=torch_dtype)
            model = model.to(dev).eval()
    vocab_size = int(model.get_output_embeddings().weight.shape[0])
    return LoadedModel(model, tokenizer, checkpoint_name(path), vocab_size, dev, torch_dtype)


def load_tokenizer(model_dir: str | Path) -> tuple[Any, int, str]:
    """Tokenizer, vocab size (from config.json) and name, without loading weights: for remote engines."""
    from transformers import AutoTokenizer

    path = Path(model_dir)
    config_path = path / "config.json"
    if not config_path.exists():
        raise CheckpointError(f"{path} has no config.json; pass a save_pretrained model directory")
    config = json.loads(config_path.read_text())
    vocab_size = int(config.get("vocab_size") or config.get("text_config", {}).get("vocab_size", 0))
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return tokenizer, vocab_size, checkpoint_name(path)
