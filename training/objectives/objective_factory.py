"""The training objective of a stage, built from configuration: one place maps a name to a loss."""

from __future__ import annotations

from training.objectives.distill_config import DistillConfig
from training.objectives.ranking_losses import RecSysDistillationLoss, SupervisedRankingLoss

OBJECTIVES = ("sft", "kd")


def build_objective(
    name: str, distill: DistillConfig, sequence_weight: float
) -> RecSysDistillationLoss | SupervisedRankingLoss:
    """`sft`: CE on label tokens + `sequence_weight` next-token CE; `kd`: the paper's RecSys distillation loss."""
    if name == "sft":
        return SupervisedRankingLoss(sequence_weight)
    if name == "kd":
        d = distill
        return RecSysDistillationLoss(
            d.label_kd_weight, d.label_ce_weight, d.sequence_weight, d.divergence, d.beta, d.temperature
        )
    raise ValueError(f"unknown objective {name!r}; known: {OBJECTIVES}")
