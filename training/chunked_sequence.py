"""The sequence-level loss term in row chunks, so the (positions, V) logits never exist at once.

Liger-Kernel's chunked-loss pattern in plain PyTorch: the LM head and the per-row loss run on `chunk_rows` hidden
rows at a time inside a non-reentrant checkpoint, so forward keeps only the (chunk, V) logits of the chunk at hand
and backward recomputes them chunk by chunk. The teacher's rows are likewise made per chunk from its hidden
states (or sliced from offline scores). The result equals the plain term (the mean over rows; tested).
With `fused_loss = "liger"` the sequence term goes instead through Liger's fused linear + loss kernels (CUDA;
`objectives/fused_loss_factory.py`), which take the hidden rows, the LM head weight and the teacher's hidden rows
and head weight (KD) or the next-token targets (CE).
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from training.objectives.fused_loss_factory import FusedLoss
from training.objectives.ranking_losses import LossTerms, RecSysDistillationLoss
from training.packed_batch import PackedBatch

if TYPE_CHECKING:
    from training.packed_lm import PackedLM
    from training.teacher_scores import TeacherScores

# (student logits (c, V) float32, the chunk's row slice) -> the chunk's summed per-row loss.
ChunkLoss = Callable[[torch.Tensor, slice], torch.Tensor]


def chunked_mean(head: nn.Module, hidden: torch.Tensor, chunk_loss: ChunkLoss, chunk_rows: int) -> torch.Tensor:
    """Mean over the M rows of `hidden` (M, H) of chunk_loss(head(rows)), never holding more than one chunk."""
    num_rows = hidden.shape[0]
    if num_rows == 0:
        return hidden.new_zeros((), dtype=torch.float32)
    total = hidden.new_zeros((), dtype=torch.float32)
    for start in range(0, num_rows, chunk_rows):
        rows = slice(start, min(num_rows, start + chunk_rows))

        def one_chunk(h: torch.Tensor, rows: slice = rows) -> torch.Tensor:
            return chunk_loss(head(h).float(), rows)

        total = total + checkpoint(one_chunk, hidden[rows], use_reentrant=False)
    return total / num_rows


def cross_entropy_chunks(targets: torch.Tensor) -> ChunkLoss:
    """Next-token CE against `targets` (M,), summed per chunk."""
    return lambda logits, rows: F.cross_entropy(logits, targets[rows], reduction="sum")


def divergence_chunks(divergence: nn.Module, teacher_rows: Callable[[slice], torch.Tensor]) -> ChunkLoss:
    """divergence(student, teacher) summed per chunk; `teacher_rows(slice)` gives the teacher's (c, V) logits."""
    return lambda logits, rows: divergence(logits, teacher_rows(rows)) * logits.shape[0]


def teacher_head_rows(head: nn.Module, hidden: torch.Tensor) -> Callable[[slice], torch.Tensor]:
    """Teacher logits of a row slice from its (M, H) hidden rows, made on demand without grad."""

    def rows(index: slice) -> torch.Tensor:
        with torch.no_grad():
            return head(hidden[index]).float()

    return rows


def chunked_step_loss(
    module: nn.Module,
    loss: nn.Module,
    batch: PackedBatch,
    positions: torch.Tensor,
    scales: tuple[float, float],
    chunk_rows: int,
    teacher: TeacherRows | None = None,
    fused: FusedLoss | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """A micro-batch's loss with the sequence term chunked (or fused by Liger); the label terms as in the plain path."""
    device = next(module.parameters()).device
    targets = batch.next_ids.flatten()[positions].to(device)
    label_target = batch.label_target.to(device)
    if isinstance(loss, RecSysDistillationLoss):
        assert teacher is not None
        chunk_loss, name = divergence_chunks(loss.divergence, teacher.sequence_rows), "sequence_kd"
    else:
        chunk_loss, name = cross_entropy_chunks(targets), "sequence_ce"

    def term(head: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
        if fused is None:
            return chunked_mean(head, hidden, chunk_loss, chunk_rows)
        teacher_hidden, teacher_weight = (teacher.hidden, teacher.head_weight) if teacher else (None, None)
        return fused(hidden, typing.cast(Any, head).weight, targets, teacher_hidden, teacher_weight)

    label_logits, sequence = module(batch, positions, term)
    empty = label_logits.new_zeros((0, label_logits.shape[-1]))
    student = LossTerms(label_logits, label_target, empty, targets[:0], label_scale=scales[0])
    if isinstance(loss, RecSysDistillationLoss):
        assert teacher is not None
        total, parts = loss(student, LossTerms(teacher.label_logits, label_target, empty, targets[:0]))
    else:
        total, parts = loss(student)
    weight = float(typing.cast(Any, loss).sequence_weight)
    if weight > 0 and positions.numel():
        total = total + scales[1] * weight * sequence
        parts[name] = sequence.detach().item()
    return total, parts


class TeacherRows:
    """The teacher's label logits (N, V) and its sequence rows on demand: from its hidden rows, or offline scores.

    A live teacher also gives its (M, H) hidden rows and LM head weight (what Liger's fused kernel reads)."""

    def __init__(
        self,
        label_logits: torch.Tensor,
        sequence_rows: Callable[[slice], torch.Tensor],
        hidden: torch.Tensor | None = None,
        head_weight: torch.Tensor | None = None,
    ) -> None:
        self.label_logits = label_logits
        self.sequence_rows = sequence_rows
        self.hidden, self.head_weight = hidden, head_weight


def teacher_rows(
    teacher: PackedLM | None,
    scores: TeacherScores | None,
    step: int,
    indices: list[int],
    batch: PackedBatch,
    positions: torch.Tensor,
    vocab: int,
    device: torch.device,
) -> TeacherRows:
    """The teacher's label logits and sequence rows: sliced from offline scores, or made per chunk from its hidden."""
    if scores is not None:
        stub = LossTerms(
            label_logits=torch.empty(0, vocab, device=device),
            label_target=batch.label_target.to(device),
            sequence_logits=torch.empty(0, vocab),
            sequence_target=batch.next_ids.flatten()[positions],
        )
        terms = scores.terms(step, indices, stub)
        dense = terms.sequence_logits
        return TeacherRows(terms.label_logits, lambda rows: dense[rows])
    assert teacher is not None
    with torch.no_grad():
        label_logits, hidden = teacher.label_logits_and_rows(batch, positions)
    head = typing.cast(Any, teacher.model).lm_head
    return TeacherRows(label_logits, teacher_head_rows(head, hidden), hidden, head.weight)
