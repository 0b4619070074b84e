"""Distillation losses as small modules over rows of logits (N, V).

Conventions follow TRL's `generalized_jsd_loss` and Liger's JSD: logits are divided by the temperature (no T²
factor), beta = 0 is forward KL(teacher || student), beta = 1 reverse KL(student || teacher), and in between
beta·KL(T || M) + (1 - beta)·KL(S || M) with the mixture M = beta·p_T + (1 - beta)·p_S. Every loss averages
over rows (tokens), or over the rows a boolean mask keeps.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class DistillationLoss(nn.Module):
    """Base: temperature scaling and the masked mean over rows; subclasses give the per-row divergence."""

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError("temperature must be > 0")
        self.temperature = temperature

    def forward(
        self, student_logits: torch.Tensor, teacher_logits: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Scalar mean divergence over the (masked) rows; student (N, V), teacher (N, V), mask (N,) bool."""
        if student_logits.shape != teacher_logits.shape:
            raise ValueError(f"student {tuple(student_logits.shape)} vs teacher {tuple(teacher_logits.shape)}")
        s = (student_logits.float() / self.temperature).log_softmax(-1)
        t = (teacher_logits.float() / self.temperature).log_softmax(-1)
        per_row = self.per_row(s, t)
        if mask is not None:
            per_row = per_row[mask]
        return per_row.mean() if per_row.numel() else per_row.sum()

    def per_row(self, student_logprobs: torch.Tensor, teacher_logprobs: torch.Tensor) -> torch.Tensor:
        """(N,) divergence from (N, V) log-probabilities."""
        raise NotImplementedError


def kl_rows(p_logprobs: torch.Tensor, q_logprobs: torch.Tensor) -> torch.Tensor:
    """(N,) KL(p || q) from log-probabilities; 0·log 0 counts as 0."""
    return F.kl_div(q_logprobs, p_logprobs, reduction="none", log_target=True).sum(-1)


class ForwardKLLoss(DistillationLoss):
    """KL(teacher || student): mass-covering, the paper's distillation term."""

    def per_row(self, student_logprobs: torch.Tensor, teacher_logprobs: torch.Tensor) -> torch.Tensor:
        return kl_rows(teacher_logprobs, student_logprobs)


class ReverseKLLoss(DistillationLoss):
    """KL(student || teacher): mode-seeking."""

    def per_row(self, student_logprobs: torch.Tensor, teacher_logprobs: torch.Tensor) -> torch.Tensor:
        return kl_rows(student_logprobs, teacher_logprobs)


class JSDLoss(DistillationLoss):
    """Generalised Jensen-Shannon divergence JSD(beta); beta 0 and 1 are the forward and reverse KL."""

    def __init__(self, beta: float = 0.5, temperature: float = 1.0) -> None:
        super().__init__(temperature)
        if not 0.0 <= beta <= 1.0:
            raise ValueError("beta must lie in [0, 1]")
        self.beta = beta

    def per_row(self, student_logprobs: torch.Tensor, teacher_logprobs: torch.Tensor) -> torch.Tensor:
        if self.beta == 0.0:
            return kl_rows(teacher_logprobs, student_logprobs)
        if self.beta == 1.0:
            return kl_rows(student_logprobs, teacher_logprobs)
        mixture = torch.logsumexp(
            torch.stack([student_logprobs + math.log(1 - self.beta), teacher_logprobs + math.log(self.beta)]), dim=0
        )
        return self.beta * kl_rows(teacher_logprobs, mixture) + (1 - self.beta) * kl_rows(student_logprobs, mixture)


def divergence(name: str, beta: float, temperature: float) -> DistillationLoss:
    """`forward_kl`, `reverse_kl` or `jsd` (with beta) as a loss module."""
    if name == "forward_kl":
        return ForwardKLLoss(temperature)
    if name == "reverse_kl":
        return ReverseKLLoss(temperature)
    if name == "jsd":
        return JSDLoss(beta, temperature)
    raise ValueError(f"unknown divergence {name!r}; expected forward_kl, reverse_kl or jsd")
