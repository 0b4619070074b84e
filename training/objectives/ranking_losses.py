"""The training objectives: the paper's RecSys distillation loss and the supervised (SFT / teacher) loss.

RecSys KD (the paper's recipe): per label token, `label_kd_weight` (0.9) x divergence to the teacher plus
`label_ce_weight` (0.1) x cross-entropy to the ground-truth label token; plus `sequence_weight` (0.05) x the
divergence over sequence positions (prompt included), averaged over those positions, i.e. normalised by their
token count. Supervised: the same shape with the teacher replaced by the ground truth, so KD and SFT students
differ only in their targets.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from training.objectives.distillation_losses import divergence


@dataclass(frozen=True)
class LossTerms:
    """Logit rows a loss reads: label positions (N, V) and sampled sequence positions (M, V)."""

    label_logits: torch.Tensor
    label_target: torch.Tensor  # (N,) long
    sequence_logits: torch.Tensor
    sequence_target: torch.Tensor  # (M,) long
    # This batch's shares of the step's label rows and sequence positions: under gradient accumulation or data
    # parallelism the per-batch means are scaled by them, so the summed gradients are the whole step's mean.
    label_scale: float = 1.0
    sequence_scale: float = 1.0


class RecSysDistillationLoss(nn.Module):
    """0.9 · D(teacher, student) + 0.1 · CE on label tokens, + 0.05 · D over the sequence positions."""

    def __init__(
        self,
        label_kd_weight: float = 0.9,
        label_ce_weight: float = 0.1,
        sequence_weight: float = 0.05,
        divergence_name: str = "forward_kl",
        beta: float = 0.0,
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        self.label_kd_weight = label_kd_weight
        self.label_ce_weight = label_ce_weight
        self.sequence_weight = sequence_weight
        self.divergence = divergence(divergence_name, beta, temperature)

    def forward(self, student: LossTerms, teacher: LossTerms) -> tuple[torch.Tensor, dict[str, float]]:
        """Total loss and its parts (floats, for logging)."""
        kd = self.divergence(student.label_logits, teacher.label_logits)
        ce = F.cross_entropy(student.label_logits.float(), student.label_target)
        total = student.label_scale * (self.label_kd_weight * kd + self.label_ce_weight * ce)
        parts = {"label_kd": kd.detach().item(), "label_ce": ce.detach().item()}
        if self.sequence_weight > 0 and student.sequence_logits.numel():
            seq = self.divergence(student.sequence_logits, teacher.sequence_logits)
            total = total + student.sequence_scale * self.sequence_weight * seq
            parts["sequence_kd"] = seq.detach().item()
        return total, parts


class SupervisedRankingLoss(nn.Module):
    """CE on the label token, + `sequence_weight` · next-token CE over the sampled sequence positions."""

    def __init__(self, sequence_weight: float = 0.05) -> None:
        super().__init__()
        self.sequence_weight = sequence_weight

    def forward(self, student: LossTerms) -> tuple[torch.Tensor, dict[str, float]]:
        """Total loss and its parts (floats, for logging)."""
        ce = F.cross_entropy(student.label_logits.float(), student.label_target)
        total = student.label_scale * ce
        parts = {"label_ce": ce.detach().item()}
        if self.sequence_weight > 0 and student.sequence_logits.numel():
            seq = F.cross_entropy(student.sequence_logits.float(), student.sequence_target)
            total = total + student.sequence_scale * self.sequence_weight * seq
            parts["sequence_ce"] = seq.detach().item()
        return total, parts
