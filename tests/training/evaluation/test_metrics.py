"""NDCG@k, log loss and ECE against plain formulas on hand-checked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training.evaluation.metrics import expected_calibration_error, log_loss, ndcg_at_k


def test_ndcg_by_hand() -> None:
    # One member: positives at ranks 2 and 3 of 3 -> DCG = 1/log2(3) + 1/log2(4); ideal = 1 + 1/log2(3).
    got = ndcg_at_k(["m"] * 3, np.array([3.0, 2.0, 1.0]), np.array([0, 1, 1], bool))
    assert got == pytest.approx((1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3)))
    # A member with no positive is skipped; k cuts the list.
    assert ndcg_at_k(["m", "n"], np.array([1.0, 1.0]), np.array([1, 0], bool)) == 1.0
    assert ndcg_at_k(["m"] * 3, np.array([3.0, 2.0, 1.0]), np.array([0, 0, 1], bool), k=2) == 0.0


def test_log_loss_and_ece_by_hand() -> None:
    p, y = np.array([0.9, 0.2]), np.array([1, 0], bool)
    assert log_loss(p, y) == pytest.approx(-(math.log(0.9) + math.log(0.8)) / 2)
    # Two bins: |0.9 - 1| and |0.2 - 0|, each half of the candidates.
    assert expected_calibration_error(p, y) == pytest.approx(0.5 * 0.1 + 0.5 * 0.2)
    assert expected_calibration_error(np.full(4, 0.5), np.array([1, 0, 1, 0], bool)) == pytest.approx(0.0)
