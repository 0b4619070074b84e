"""Magnitude and Wanda-style selections against their definitions."""

from __future__ import annotations

import pytest
import torch

from compression.baselines import baseline_selection, magnitude_scores, wanda_scores
from compression.layer_problem import GroupLayout, LayerProblem


def _problem(input_scale: torch.Tensor) -> LayerProblem:
    weight = torch.tensor([[3.0, 0.0], [1.0, 1.0], [0.1, 0.1], [2.0, 0.0]], dtype=torch.float64)
    gram = torch.diag(input_scale.double() ** 2)
    return LayerProblem(gram, weight, GroupLayout(4, 1))


def test_magnitude_ignores_inputs_and_wanda_weighs_them():
    problem = _problem(torch.tensor([0.01, 1.0, 100.0, 1.0]))
    torch.testing.assert_close(magnitude_scores(problem), problem.weight.norm(dim=1))
    torch.testing.assert_close(wanda_scores(problem), problem.weight.norm(dim=1) * torch.tensor([0.01, 1, 100, 1]))
    assert baseline_selection(problem, 2, "magnitude").kept == (0, 3)
    assert baseline_selection(problem, 2, "wanda").kept == (2, 3)  # scores 0.03, 1.41, 14.1, 2.0


def test_plain_keeps_dense_weights_and_refit_lowers_error():
    problem = _problem(torch.ones(4))
    plain = baseline_selection(problem, 2, "wanda")
    torch.testing.assert_close(plain.weight, problem.masked(plain.kept))
    refit = baseline_selection(problem, 2, "wanda", refit=True)
    assert refit.method == "wanda+refit" and refit.kept == plain.kept
    assert problem.error(refit.weight) <= problem.error(plain.weight)
    with pytest.raises(ValueError, match="unknown baseline"):
        baseline_selection(problem, 2, "random")
