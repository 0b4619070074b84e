"""The pruned-set swap search against brute-force re-solves: objective, every swap's value, refit weights."""

from __future__ import annotations

import pytest
import torch

from compression.baselines import baseline_selection
from compression.osscar import Osscar, OsscarConfig
from compression.support import full_inverse
from compression.swap_search import SwapSearch
from tests.compression.conftest import make_problem


@pytest.mark.parametrize("correlated", [False, True])
def test_objective_and_refit_match_the_kept_set_solve(correlated: bool) -> None:
    problem = make_problem(seed=5, num_groups=12, correlated=correlated)
    search = SwapSearch(problem, full_inverse(problem), [1, 4, 7, 8])
    kept = search.kept_groups()
    assert search.objective == pytest.approx(problem.objective(kept), rel=1e-9)
    torch.testing.assert_close(search.refit_weight(), problem.refit(kept), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("num_partitions", [1, 2])
def test_every_swap_value_matches_bruteforce(num_partitions: int) -> None:
    problem = make_problem(seed=6, num_groups=10, correlated=True, num_partitions=num_partitions)
    pruned = [0, 3, 6, 9]
    search = SwapSearch(problem, full_inverse(problem), pruned)
    kept = torch.tensor(search.kept_groups())
    best = (None, None, float("inf"))
    for o in kept.tolist():
        for i in pruned:
            if problem.layout.partition_of(o) != problem.layout.partition_of(i):
                continue
            value = problem.objective(sorted({*search.kept_groups(), i} - {o}))
            best = min(best, (o, i, value), key=lambda t: t[2])
            alone = search.best_swap(torch.tensor([o]))  # the best back-in for this one out
            assert alone[2] <= value * (1 + 1e-9)
    o, i, value = search.best_swap(kept)
    assert (o, i) == best[:2] and value == pytest.approx(best[2], rel=1e-9)
    search.swap(o, i)
    assert search.objective == pytest.approx(best[2], rel=1e-9)


def test_removal_costs_match_bruteforce() -> None:
    problem = make_problem(seed=7, num_groups=9, correlated=True)
    search = SwapSearch(problem, full_inverse(problem), [2, 5])
    costs = search.removal_costs()
    for o in search.kept_groups():
        grown = problem.objective(sorted(set(search.kept_groups()) - {o}))
        assert float(costs[o]) == pytest.approx(grown - search.objective, rel=1e-8)
    assert torch.isinf(costs[2]) and torch.isinf(costs[5])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_pruned_set_search_beats_greedy_and_refit_baselines(seed: int) -> None:
    problem = make_problem(seed=seed, num_groups=24, correlated=True)
    new = Osscar(OsscarConfig(search="pruned_set", swap_candidates=0)).select(problem, 14)
    assert new.objective == pytest.approx(problem.objective(new.kept), rel=1e-9)
    assert new.objective <= new.greedy_objective * (1 + 1e-12)
    for method in ("wanda", "magnitude"):
        assert new.objective <= baseline_selection(problem, 14, method, refit=True).objective * (1 + 1e-9)


def test_pruned_set_search_refuses_wide_groups() -> None:
    problem = make_problem(seed=0, num_groups=6, group_size=2)
    with pytest.raises(ValueError, match="one-column groups"):
        Osscar(OsscarConfig(search="pruned_set")).select(problem, 4)


def test_updated_state_after_swaps_equals_a_fresh_solve() -> None:
    problem = make_problem(seed=8, num_groups=14, correlated=True)
    search = SwapSearch(problem, full_inverse(problem), [0, 2, 5, 11])
    for out, back in ((3, 2), (7, 11), (2, 3), (13, 0)):
        search.swap(out, back)
    fresh = SwapSearch(problem, full_inverse(problem), sorted(set(range(14)) - set(search.kept_groups())))
    order = torch.argsort(search.pruned)
    torch.testing.assert_close(search.c[order][:, order], fresh.c, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(search.r[order], fresh.r, rtol=1e-8, atol=1e-10)
    assert search.objective == pytest.approx(fresh.objective, rel=1e-9)
    assert search.objective == pytest.approx(
        SwapSearch.objective_of(problem, full_inverse(problem), fresh.pruned), rel=1e-9
    )


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize(("group_size", "num_partitions"), [(1, 1), (4, 2)])
def test_solvers_on_cuda_select_what_cpu_selects(group_size: int, num_partitions: int) -> None:
    """`--device cuda`: the same problem on the GPU keeps the same groups with the same objective."""
    from compression.layer_problem import LayerProblem

    cpu = make_problem(seed=3, num_groups=24, group_size=group_size, correlated=True, num_partitions=num_partitions)
    gpu = LayerProblem(cpu.gram, cpu.weight, cpu.layout, damp=0.01, device="cuda")
    keep = 12
    on_cpu, on_gpu = Osscar().select(cpu, keep), Osscar().select(gpu, keep)
    assert on_gpu.kept == on_cpu.kept
    assert on_gpu.objective == pytest.approx(on_cpu.objective, rel=1e-6)
    torch.testing.assert_close(on_gpu.weight.cpu(), on_cpu.weight, rtol=1e-6, atol=1e-8)
