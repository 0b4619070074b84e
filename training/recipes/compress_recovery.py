"""Structured pruning with recovery training: one-step or gradual, KD against the unpruned student or SFT.

The recipe of the paper's Tables 1-4: prune MLP neurons and/or attention heads with OSSCAR
(`compression.structured_prune`), then train the pruned model with the training pipeline's own `Trainer`.
Recovery by KD uses the *unpruned distilled student* as the teacher (its logits are what the pruned model
should reproduce); SFT uses the labels alone. Gradual pruning splits the same sparsity and the same total
number of recovery steps over `num_steps` prune -> recover rounds, recalibrating on the recovered model each
round. Each round trains in its own folder, so an interrupted run resumes (pruning is deterministic, and the
Trainer restores its round's weights from `train_state.pt`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from compression.compress_config import DEFAULTS
from training.data.example_builder import ExampleBuilder
from training.objectives.distill_config import DistillConfig

RECOVERIES = ("none", "kd", "sft")


@dataclass(frozen=True)
class PruneRecipeConfig:
    """What to prune, in how many rounds, and how each round recovers (steps are the total over all rounds)."""

    mlp_sparsity: float = 0.0
    head_sparsity: float = 0.0
    num_steps: int = 1
    recovery: str = "kd"
    recovery_steps: int = 200
    groups_per_step: int = 4
    learning_rate: float = 1e-3
    warmup_steps: int = 10
    # Shared knobs default to compression.compress_config (one home for every compress default); the named
    # experiments of compress_tables.py set their own values explicitly.
    num_calibration: int = DEFAULTS.num_calibration
    method: str = DEFAULTS.method
    neuron_multiple: int = DEFAULTS.neuron_multiple
    max_swap_rounds: int = DEFAULTS.osscar.max_swap_rounds
    solver_device: str = DEFAULTS.solver_device
    dtype: str = DEFAULTS.dtype  # of the saved model; 'auto' keeps the source checkpoint's (training runs in fp32)
    distill: DistillConfig = field(default_factory=DistillConfig)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.recovery not in RECOVERIES:
            raise ValueError(f"recovery must be one of {RECOVERIES}, got {self.recovery!r}")
        if self.num_steps < 1 or self.recovery_steps < 0:
            raise ValueError("PruneRecipeConfig: num_steps >= 1 and recovery_steps >= 0")

    def round_steps(self) -> int:
        """Recovery steps of each round: the total split evenly, so one-step and gradual get the same budget."""
        return 0 if self.recovery == "none" else self.recovery_steps // self.num_steps

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def calibration_sequences(examples: ExampleBuilder, num_sequences: int, seed: int = 0) -> list[list[int]]:
    """In-domain calibration: full train-period prompts (member prefix + one candidate suffix)."""
    rng = np.random.default_rng([seed, 7919])
    groups = examples.train_groups(rng, num_sequences)
    return [list(g.prefix_ids) + list(g.suffix_ids[int(rng.integers(len(g.suffix_ids)))]) for g in groups]


def prune_and_recover(
    student_dir: str | Path,
    examples: ExampleBuilder,
    out_dir: str | Path,
    config: PruneRecipeConfig,
    teacher_dir: str | Path | None = None,
) -> Path:
    """Prune the checkpoint in `student_dir`, recovering after each round; saves a checkpoint to out_dir/model.

    The KD teacher is `teacher_dir`, by default the unpruned `student_dir` itself.
    """
    from compression.structured_prune import gradual_prune
    from training.checkpoint_writer import load_model

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model, tokenizer, card = load_model(student_dir)
    teacher = load_model(teacher_dir or student_dir)[0] if config.recovery == "kd" else None
    sequences = calibration_sequences(examples, config.num_calibration, config.seed)
    started = time.perf_counter()
    recover = _recovery(examples, tokenizer, config, out, teacher)
    reports = gradual_prune(model, sequences, _prune_config(config), config.num_steps, after_step=recover)
    seconds = time.perf_counter() - started
    manifest = _manifest(Path(student_dir), model, config, [r.to_dict() for r in reports], seconds)
    model.to(_output_dtype(Path(student_dir), config.dtype))
    return _save(model, tokenizer, card, out / "model", manifest)


def _output_dtype(student_dir: Path, name: str):
    """The torch dtype to save in: `name`, or for 'auto' the source checkpoint's config dtype."""
    import json

    from ranking.model_loader import DTYPES

    if name == "auto":
        config = json.loads((student_dir / "config.json").read_text())
        name = str(config.get("dtype") or config.get("torch_dtype") or "float32")
    return DTYPES.get(name, DTYPES["float32"])


def _prune_config(config: PruneRecipeConfig):
    from compression.structured_prune import PruneConfig

    return PruneConfig(
        mlp_sparsity=config.mlp_sparsity,
        head_sparsity=config.head_sparsity,
        method=config.method,
        neuron_multiple=config.neuron_multiple,
        solver_device=config.solver_device,
        osscar=replace(DEFAULTS.osscar, max_swap_rounds=config.max_swap_rounds),
    )


def _recovery(examples: ExampleBuilder, tokenizer, config: PruneRecipeConfig, out: Path, teacher):
    """The `after_step(model, round)` hook: a Trainer run with the KD or SFT loss in out/round-<i>."""
    from ranking.labels import resolve_all
    from training.objectives.ranking_losses import RecSysDistillationLoss, SupervisedRankingLoss
    from training.trainer import TrainConfig, Trainer

    steps = config.round_steps()
    d = config.distill
    labels = resolve_all(tokenizer, examples.tasks, len(tokenizer))

    def recover(model, index: int) -> None:
        if steps == 0:
            return
        loss: Any = (
            RecSysDistillationLoss(
                d.label_kd_weight, d.label_ce_weight, d.sequence_weight, d.divergence, d.beta, d.temperature
            )
            if config.recovery == "kd"
            else SupervisedRankingLoss(d.sequence_weight)
        )
        train = TrainConfig(
            steps=steps,
            groups_per_step=config.groups_per_step,
            learning_rate=config.learning_rate,
            warmup_steps=min(config.warmup_steps, steps),
            # A different batch stream per round: later rounds must not replay the first one's groups.
            seed=config.seed * 1000 + index + 1,
        )
        trainer = Trainer(model, examples, labels, tokenizer.pad_token_id, train, out / f"round-{index}", loss, teacher)
        trainer.run(description=f"{config.recovery} round {index + 1}/{config.num_steps}")
        model.eval()

    return recover


def _manifest(
    student_dir: Path, model, config: PruneRecipeConfig, reports: list[dict[str, Any]], seconds: float
) -> dict[str, Any]:
    """The source's manifest plus what was pruned, how it recovered and the new shape."""
    import json

    from training.model_factory import num_parameters

    path = student_dir / "manifest.json"
    manifest = json.loads(path.read_text()) if path.exists() else {}
    manifest.update(
        {
            "role": f"pruned-{config.recovery}",
            "source": str(student_dir),
            "num_parameters": num_parameters(model),
            "compression": {
                "prune_recipe": config.to_dict(),
                "rounds": [{"config": r["config"]} for r in reports],
                "intermediate_size": model.config.intermediate_size,
                "num_attention_heads": model.config.num_attention_heads,
                "seconds": round(seconds, 1),
            },
            "metrics": None,
        }
    )
    return manifest


def _save(model, tokenizer, card, out: Path, manifest: dict[str, Any]) -> Path:
    import dataclasses

    from training.checkpoint_writer import save_checkpoint

    name = f"{manifest.get('model_name', 'student')}-{manifest['role']}"
    return save_checkpoint(model, tokenizer, out, dataclasses.replace(card, model_name=name), manifest)
