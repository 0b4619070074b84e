"""The RecSys KD objective and the supervised objective against their plain definitions."""

from __future__ import annotations

import pytest
import torch

from tests.reference.divergences import cross_entropy, generalized_jsd
from training.objectives.ranking_losses import LossTerms, RecSysDistillationLoss, SupervisedRankingLoss


def terms(seed: int) -> LossTerms:
    g = torch.Generator().manual_seed(seed)
    return LossTerms(
        label_logits=torch.randn(6, 9, generator=g) * 2,
        label_target=torch.randint(0, 9, (6,), generator=g),
        sequence_logits=torch.randn(20, 9, generator=g) * 2,
        sequence_target=torch.randint(0, 9, (20,), generator=g),
    )


def test_recsys_loss_is_90_fkl_10_ce_plus_5_sequence() -> None:
    student, teacher = terms(0), terms(1)
    got, parts = RecSysDistillationLoss()(student, teacher)
    label_kd = generalized_jsd(student.label_logits, teacher.label_logits, 0.0)
    label_ce = cross_entropy(student.label_logits, student.label_target)
    # Mean over sequence positions = the sum normalised by the token count.
    seq_kd = generalized_jsd(student.sequence_logits, teacher.sequence_logits, 0.0)
    assert got.item() == pytest.approx(0.9 * label_kd + 0.1 * label_ce + 0.05 * seq_kd, abs=1e-5)
    assert parts["label_kd"] == pytest.approx(label_kd, abs=1e-5)
    assert parts["sequence_kd"] == pytest.approx(seq_kd, abs=1e-5)


def test_recsys_loss_with_jsd_and_temperature() -> None:
    student, teacher = terms(2), terms(3)
    loss = RecSysDistillationLoss(0.5, 0.5, 0.0, "jsd", beta=0.3, temperature=2.0)
    got, parts = loss(student, teacher)
    want = 0.5 * generalized_jsd(student.label_logits, teacher.label_logits, 0.3, 2.0) + 0.5 * cross_entropy(
        student.label_logits, student.label_target
    )
    assert got.item() == pytest.approx(want, abs=1e-5)
    assert "sequence_kd" not in parts


def test_supervised_loss() -> None:
    student = terms(4)
    got, _ = SupervisedRankingLoss(0.05)(student)
    want = cross_entropy(student.label_logits, student.label_target) + 0.05 * cross_entropy(
        student.sequence_logits, student.sequence_target
    )
    assert got.item() == pytest.approx(want, abs=1e-5)
