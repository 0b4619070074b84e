"""AUC against the brute-force pairwise reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reference.pairwise_auc import pairwise_auc
from training.evaluation.auc import mean_member_auc, roc_auc


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.booleans()), min_size=2, max_size=40))
def test_auc_matches_pairwise_with_ties(pairs) -> None:
    scores = [float(s) for s, _ in pairs]
    labels = [y for _, y in pairs]
    want = pairwise_auc(scores, labels)
    got = roc_auc(scores, labels)
    assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want, abs=1e-12)


def test_known_values() -> None:
    assert roc_auc([0.1, 0.9], [False, True]) == 1.0
    assert roc_auc([0.9, 0.1], [False, True]) == 0.0
    assert roc_auc([0.5, 0.5], [False, True]) == 0.5
    assert math.isnan(roc_auc([1.0, 2.0], [True, True]))


def test_mean_member_auc_skips_single_class_members() -> None:
    members = [1, 1, 1, 2, 2]
    scores = np.array([0.1, 0.9, 0.5, 0.3, 0.4])
    labels = np.array([False, True, False, True, True])
    want = pairwise_auc([0.1, 0.9, 0.5], [False, True, False])
    assert mean_member_auc(members, scores, labels) == pytest.approx(want)


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError):
        roc_auc([1.0, 2.0], [True])
