"""Group layouts, keep counts and the least-squares refit against plain solves."""

from __future__ import annotations

import pytest
import torch

from compression.layer_problem import GroupLayout, num_kept
from tests.compression.conftest import make_problem
from tests.reference.compression_osscar_bruteforce import group_columns, support_objective


def test_columns_and_top_groups_with_partitions():
    layout = GroupLayout(num_groups=6, group_size=2, num_partitions=2)
    assert layout.columns([0, 4]).tolist() == [0, 1, 8, 9]
    scores = torch.tensor([5.0, 1.0, 3.0, 0.5, 9.0, 8.0])
    # Best two overall would be 4 and 5 (one partition); quotas force one from each partition.
    assert layout.top_groups(scores, 2) == (0, 4)
    with pytest.raises(ValueError, match="multiple"):
        layout.keep_per_partition(3)
    with pytest.raises(ValueError, match="partitions"):
        GroupLayout(num_groups=5, group_size=1, num_partitions=2)


@pytest.mark.parametrize(
    ("groups", "sparsity", "multiple", "expected"),
    [(48, 0.25, 1, 36), (10, 0.3, 1, 7), (3, 1 / 3, 1, 2), (512, 0.3, 128, 256), (100, 0.99, 8, 8), (8, 0.0, 1, 8)],
)
def test_num_kept(groups, sparsity, multiple, expected):
    assert num_kept(groups, sparsity, multiple) == expected


def test_refit_is_least_squares_and_objective_matches():
    problem = make_problem(seed=1, num_groups=6, group_size=2, correlated=True)
    kept = (0, 2, 5)
    cols = group_columns(kept, 2)
    refit = problem.refit(kept)
    expected = torch.linalg.solve(problem.damped[cols][:, cols], (problem.damped @ problem.weight)[cols])
    torch.testing.assert_close(refit[cols], expected)
    assert refit[group_columns((1, 3, 4), 2)].abs().max() == 0
    assert problem.objective(kept) == pytest.approx(support_objective(problem.damped, problem.weight, cols))
    assert problem.error(problem.weight) == 0.0
    assert problem.relative_error(torch.zeros_like(problem.weight)) == pytest.approx(1.0)
    assert problem.error(refit) < problem.error(problem.masked(kept))
