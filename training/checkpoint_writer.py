"""Write a servable checkpoint: save_pretrained weights + tokenizer, slmrank.json (prompt budgets), manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ranking.prompt_builder import PROMPT_CONFIG_FILE, PromptConfig

MANIFEST_FILE = "manifest.json"


def save_checkpoint(
    model,
    tokenizer,
    out_dir: str | Path,
    prompt: PromptConfig,
    tasks: tuple[str, ...] | list[str],
    model_name: str,
    manifest: dict[str, Any],
    dtype: str = "float32",
) -> Path:
    """save_pretrained(model.safetensors) + tokenizer files + slmrank.json + manifest.json in out_dir."""
    import torch

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    to_save = model if dtype == "float32" else _cast_copy(model, getattr(torch, dtype))
    to_save.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    portable_tokenizer_class(out)
    write_json(out / PROMPT_CONFIG_FILE, {"prompt": prompt.to_dict(), "tasks": list(tasks), "model_name": model_name})
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
    """(model, tokenizer, prompt config) of a saved checkpoint, CPU float32, never touching a hub."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(model_dir), local_files_only=True, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    return model.eval(), tokenizer, PromptConfig.from_checkpoint(model_dir)
