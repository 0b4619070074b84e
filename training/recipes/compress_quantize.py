"""Quantize a trained checkpoint to FP8 / INT8 / W4A16 exports and evaluate any checkpoint, dense or quantized.

Calibration (GPTQ's Gram matrices, SmoothQuant's activation maxima) uses in-domain MovieLens prompts built by
the training example builder, the prompts the model will rank. Exports are written by `compression.export`
in the compressed-tensors format and evaluated through `ranking.model_loader.load_checkpoint`, the loader the
service uses, with the training evaluator's packed scoring, so the AUC measured is the one that gets served.
"""

from __future__ import annotations

import time
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
