"""Ship a trained student as the service's default model: copy its checkpoint and write a model card."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ranking.card import ModelCard
from training.checkpoint_writer import MANIFEST_FILE

MAX_SHIPPED_BYTES = 25 * 1024 * 1024
SHIPPED_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "slmrank.json",
    MANIFEST_FILE,
)


def ship(model_dir: str | Path, target: str | Path, reproduce_command: str) -> Path:
    """Replace `target` with the checkpoint in model_dir (size-checked) plus a README.md model card."""
    src, dst = Path(model_dir), Path(target)
    files = [src / name for name in SHIPPED_FILES if (src / name).exists()]
    size = sum(f.stat().st_size for f in files)
    if size > MAX_SHIPPED_BYTES:
        raise ValueError(f"{src} is {size / 1e6:.1f} MB; a committed default model must stay under 25 MB")
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    for f in files:
        shutil.copy2(f, dst / f.name)
    manifest = json.loads((src / MANIFEST_FILE).read_text())
    card = ModelCard.load(src)
    tasks = "; ".join(f"task `{t.name}`: {t.positive_label!r}/{t.negative_label!r}" for t in card.tasks)
    (dst / "README.md").write_text(model_card(manifest, reproduce_command, tasks))
    return dst


def model_card(manifest: dict, reproduce_command: str, tasks: str = "") -> str:
    """A short model card: what it is, how well it ranks, how to rebuild it, and the data licence."""
    metrics = manifest.get("metrics") or {}
    data = manifest["data"]
    lines = [
        f"# {manifest['model_name']}",
        "",
        f"A small causal LM that ranks the items of the dataset `{data['dataset']}` for a member: for each",
        "candidate it reads a member prefix (profile, recent interactions) and the candidate, and predicts a label",
        f"token ({tasks or 'tasks and labels in slmrank.json'}). Trained by the slmrank pipeline with objective",
        f"`{manifest['objective']}` ({manifest['stage']}).",
        "",
        f"- parameters: {manifest['num_parameters']:,}",
        f"- shape: `{json.dumps(manifest['model_config'])}`",
        f"- seed: {manifest['seed']}; data sha256: `{json.dumps(data['sha256'])}`",
    ]
    if metrics:
        per_task = ", ".join(f"{t} {m['auc']:.4f}" for t, m in metrics["tasks"].items())
        lines.append(f"- test AUC (global, last 20% of each member's interactions): {per_task}")
    lines += [
        "",
        "Tasks, labels and the prompt budgets the model was trained with are in `slmrank.json`.",
        "",
        "Reproduce (from the repository root):",
        "",
        "```",
        reproduce_command,
        "```",
        "",
        "## Data licence",
        "",
        data.get("licence", "not stated by the dataset"),
        "The model is derived from that data and carries its terms.",
        "",
    ]
    return "\n".join(lines)
