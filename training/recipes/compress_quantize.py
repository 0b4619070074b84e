"""Quantize a trained checkpoint to FP8 / INT8 / W4A16 exports and evaluate any checkpoint, dense or quantized.

Calibration (GPTQ's Gram matrices, SmoothQuant's activation maxima) uses in-domain MovieLens prompts built by
the training example builder, the prompts the model will rank. Exports are written by `compression.export`
in the compressed-tensors format and evaluated through `ranking.model_loader.load_checkpoint`, the loader the
service uses, with the training evaluator's packed scoring, so the AUC measured is the one that gets served.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from training.data.example_builder import ExampleBuilder, RankGroup
from training.recipes.compress_recovery import calibration_sequences


@dataclass(frozen=True)
class QuantizeRecipeConfig:
    """One scheme (compression.quantize.SCHEMES), the preferred W4A16 group size, and the calibration size."""

    scheme: str = "fp8_dynamic"
    group_size: int = 128
    num_calibration: int = 64
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def quantize_checkpoint(
    model_dir: str | Path, examples: ExampleBuilder, out_dir: str | Path, config: QuantizeRecipeConfig
) -> dict[str, Any]:
    """Quantize `model_dir` into a compressed-tensors export in out_dir; returns what was done."""
    from compression.export import checkpoint_bytes, export_compressed
    from compression.quantize import QuantizeConfig, fitted_group_size, quantize_model
    from training.checkpoint_writer import load_model

    model, _, _ = load_model(model_dir)
    group_size = fitted_group_size(model, config.group_size) if config.scheme == "w4a16" else config.group_size
    quant = QuantizeConfig(scheme=config.scheme, group_size=group_size)
    sequences = calibration_sequences(examples, config.num_calibration, config.seed) if quant.needs_calibration else []
    started = time.perf_counter()
    layers = quantize_model(model, sequences, quant, progress=True)
    export_compressed(model, layers, quant.to_scheme(), out_dir, source_dir=model_dir)
    return {
        "scheme": config.scheme,
        "group_size": group_size if config.scheme == "w4a16" else None,
        "num_calibration": len(sequences),
        "quantize_seconds": round(time.perf_counter() - started, 1),
        "bytes": checkpoint_bytes(out_dir),
    }


def eval_groups(
    examples: ExampleBuilder, max_members: int | None = None, period: str = "test"
) -> dict[str, list[RankGroup]]:
    """Every task's evaluation groups, restricted to the first `max_members` members (by id) when given."""
    out = {}
    for task in examples.tasks:
        groups = examples.eval_groups(period, task.name)
        if max_members is not None:
            keep = set(sorted({g.member_id for g in groups})[:max_members])
            groups = [g for g in groups if g.member_id in keep]
        out[task.name] = groups
    return out


def evaluate_checkpoint(
    model_dir: str | Path,
    groups_by_task: Mapping[str, Sequence[RankGroup]],
    groups_per_batch: int = 4,
    scores_out: str | Path | None = None,
) -> dict[str, Any]:
    """Global and per-member AUC per task of any checkpoint (dense, pruned or quantized), its size in bytes.

    With `scores_out`, every candidate's score is also saved there (.npz) for paired comparisons.
    """
    from compression.export import checkpoint_bytes
    from ranking.card import ModelCard
    from ranking.labels import resolve_all
    from ranking.model_loader import is_quantized_checkpoint, load_checkpoint
    from training.evaluation.evaluator import save_task_scores, score_model, summarise
    from training.model_factory import num_parameters

    path = Path(model_dir)
    loaded = load_checkpoint(path, device="cpu", dtype="float32")
    card = ModelCard.load(path)
    labels = resolve_all(loaded.tokenizer, [card.task(t) for t in groups_by_task], loaded.vocab_size)
    started = time.perf_counter()
    per_task = {
        task: score_model(
            loaded.model,
            groups,
            labels,
            loaded.tokenizer.pad_token_id,
            groups_per_batch,
            progress=f"eval {path.parent.name}:{task}",
        )
        for task, groups in groups_by_task.items()
    }
    if scores_out is not None:
        save_task_scores(per_task, scores_out)
    is_quantized = is_quantized_checkpoint(path)
    return {
        **summarise(per_task),
        "kind": "model",
        "path": str(path),
        # A quantized model's dequantized skeleton would count float weights it does not store.
        "num_parameters": None if is_quantized else num_parameters(loaded.model),
        "bytes": checkpoint_bytes(path),
        "is_quantized": is_quantized,
        "eval_seconds": round(time.perf_counter() - started, 1),
    }
