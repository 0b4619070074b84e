"""Write a servable checkpoint: save_pretrained weights + tokenizer, the model card (slmrank.json), manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ranking.card import ModelCard

MANIFEST_FILE = "manifest.json"


def save_checkpoint(
    model,
    tokenizer,
    out_dir: str | Path,
    card: ModelCard,
    manifest: dict[str, Any],
    dtype: str = "float32",
) -> Path:
    """save_pretrained(model.safetensors) + tokenizer files + the card + manifest.json in out_dir."""
    import torch

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    to_save = model if dtype == "float32" else _cast_copy(model, getattr(torch, dtype))
    to_save.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    portable_tokenizer_class(out)
    card.save(out)
    write_json(out / MANIFEST_FILE, manifest)
    return out


def portable_tokenizer_class(out: Path) -> None:
    """Name the tokenizer class PreTrainedTokenizerFast: transformers 4.x and 5.x (and the engines) all load it."""
    path = out / "tokenizer_config.json"
    if path.exists():
        data = json.loads(path.read_text())
        data["tokenizer_class"] = "PreTrainedTokenizerFast"
        write_json(path, data)


def _cast_copy(model, dtype):
    import copy

    return copy.deepcopy(model).to(dtype)


def write_json(path: Path, data: Any) -> None:
    """Pretty JSON with a trailing newline, written atomically."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)


def load_model(model_dir: str | Path):
    """(model, tokenizer, card) of a saved checkpoint, CPU float32, never touching a hub."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(model_dir), local_files_only=True, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    return model.eval(), tokenizer, ModelCard.load(model_dir)
