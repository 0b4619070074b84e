"""The KD objective's settings: the paper's loss weights, the divergence and its temperature."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DistillConfig:
    """The KD student's objective: the paper's weights, the divergence and its temperature."""

    label_kd_weight: float = 0.9
    label_ce_weight: float = 0.1
    sequence_weight: float = 0.05
    divergence: str = "forward_kl"
    beta: float = 0.0
    temperature: float = 1.0
