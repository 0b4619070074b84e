"""Ship a trained student as the service's default model: copy its checkpoint and write a model card."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from training.checkpoint_writer import MANIFEST_FILE
from training.evaluation.report import LICENCE_NOTE

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
    (dst / "README.md").write_text(model_card(manifest, reproduce_command))
    return dst


def model_card(manifest: dict, reproduce_command: str) -> str:
    """A short model card: what it is, how well it ranks, how to rebuild it, and the data licence."""
    metrics = manifest.get("metrics") or {}
    lines = [
        f"# {manifest['model_name']}",
        "",
        "A small Qwen3ForCausalLM (GQA, explicit head_dim) that ranks MovieLens movies for a member: for each",
        "candidate it reads a member prefix (profile, recent ratings) and the candidate, and predicts a label token",
        '(task `like`: " Yes"/" No"; task `love`: " True"/" False"). Trained from scratch on CPU by the',
        f"slmrank pipeline with objective `{manifest['objective']}` ({manifest['role']}).",
        "",
        f"- parameters: {manifest['num_parameters']:,}",
        f"- shape: `{json.dumps(manifest['model_config'])}`",
        f"- seed: {manifest['seed']}; data sha256: `{json.dumps(manifest['data']['sha256'])}`",
    ]
    if metrics:
        tasks = ", ".join(f"{t} {m['auc']:.4f}" for t, m in metrics["tasks"].items())
        lines.append(f"- test AUC (global, last 20% of each member's ratings): {tasks}; mean {metrics['mean_auc']:.4f}")
    lines += [
        "",
        "Prompt budgets the model was trained with are in `slmrank.json`; the service reads them from there.",
        "",
        "Reproduce (from the repository root):",
        "",
        "```",
        reproduce_command,
        "```",
        "",
        "## Data licence",
        "",
        LICENCE_NOTE,
        "The model is derived from that data: use it for research only, not commercially, and cite",
        "F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History and Context.",
        "ACM Transactions on Interactive Intelligent Systems 5(4): 19:1-19:19. https://doi.org/10.1145/2827872",
        "",
    ]
    return "\n".join(lines)
