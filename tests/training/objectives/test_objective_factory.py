"""One place maps an objective name to its loss, with the configured weights."""

from __future__ import annotations

import pytest

from training.objectives.distill_config import DistillConfig
from training.objectives.objective_factory import build_objective
from training.objectives.ranking_losses import RecSysDistillationLoss, SupervisedRankingLoss


def test_names_map_to_losses() -> None:
    assert isinstance(build_objective("sft", DistillConfig(), 0.05), SupervisedRankingLoss)
    kd = build_objective("kd", DistillConfig(label_kd_weight=0.7, divergence="jsd", beta=0.5), 0.05)
    assert isinstance(kd, RecSysDistillationLoss)
    with pytest.raises(ValueError, match="known"):
        build_objective("dpo", DistillConfig(), 0.05)
