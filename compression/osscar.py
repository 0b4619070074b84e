"""OSSCAR (Meng et al., ICML 2024): structured pruning of one layer by greedy removal and local-search swaps.

The problem (LayerProblem): keep s groups of inputs and minimise f(S) = min_{Ŵ_S} ‖X(B − Ŵ)‖² + λ̄‖B − Ŵ‖².
With the damped Gram H (= XᵀX + λ̄I) and G = H B, the optimum on a support S is Ŵ_S = H_SS⁻¹ G_S and

    f(S) = tr(Bᵀ H B) − tr(G_Sᵀ H_SS⁻¹ G_S).

We carry Hinv = H_SS⁻¹ (embedded in a p×p matrix, zero outside S) and the current refit W, and never
re-invert:

* removing a set T ⊂ S raises f by  δ_T = tr(W_Tᵀ [Hinv_TT]⁻¹ W_T)  (block Optimal Brain Surgeon), and the
  downdate is  W ← W − Hinv_{:T} Hinv_TT⁻¹ W_T,  Hinv ← Hinv − Hinv_{:T} Hinv_TT⁻¹ Hinv_{T:};
* adding a set A ∉ S lowers f by  γ_A = tr(r_Aᵀ C_A⁻¹ r_A)  with the residual r_A = G_A − H_{A:} W and the
  Schur complement C_A = H_AA − H_{A:} Hinv H_{:A}; the update is the bordered-inverse formula.

Greedy backward elimination removes the cheapest groups until s remain; local search then swaps one kept
group out and one pruned group in, keeping the swap only if f drops. Groups respect the layout's partitions
(same count kept in every partition) throughout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from compression.baselines import BASELINE_SCORES
from compression.layer_problem import LayerProblem, Selection
from compression.support import Support, full_inverse
from compression.swap_search import SwapSearch

SEARCHES = ("auto", "pruned_set", "support")


@dataclass(frozen=True)
class OsscarConfig:
    """Solver knobs: how many greedy steps, and the local-search budget."""

    num_greedy_steps: int = 32  # removal is done in this many blocks (1 group per step when fewer groups)
    max_swap_rounds: int = 20  # swaps applied at most (one per round); 0 turns local search off
    swap_candidates: int = 64  # cheapest kept groups tried as the one to swap out (0: every kept group)
    # "pruned_set": the closed-form search over the pruned set (compression/swap_search.py; one-column groups
    # only, all pairs of a round in two matrix products); "support": the kept-set search below (any group size,
    # O(p²·|pruned|) per candidate); "auto": pruned_set where it applies.
    search: str = "auto"
    # Local search also runs from these baselines' supports and the best end point wins: 1-for-1 swaps
    # stop at local optima, and a second start is cheap insurance that OSSCAR never loses to a refit
    # baseline.
    warm_starts: tuple[str, ...] = ("wanda", "magnitude")

    def __post_init__(self) -> None:
        if self.num_greedy_steps < 1 or self.max_swap_rounds < 0 or self.swap_candidates < 0:
            raise ValueError("OsscarConfig: steps >= 1, swap rounds >= 0, swap candidates >= 0")
        if self.search not in SEARCHES:
            raise ValueError(f"OsscarConfig.search must be one of {SEARCHES}, got {self.search!r}")
        unknown = set(self.warm_starts) - set(BASELINE_SCORES)
        if unknown:
            raise ValueError(f"OsscarConfig.warm_starts: unknown baselines {sorted(unknown)}")


class Osscar:
    """Greedy backward elimination then swap local search, with a final exact least-squares refit."""

    def __init__(self, config: OsscarConfig | None = None):
        self.config = config or OsscarConfig()

    def select(self, problem: LayerProblem, num_keep: int) -> Selection:
        """Keep `num_keep` groups of `problem`; returns the refit selection."""
        quota = problem.layout.keep_per_partition(num_keep)
        inverse = full_inverse(problem)
        support = Support(problem, inverse)
        self._greedy(support, quota)
        greedy_objective = support.objective
        if self._uses_pruned_set(problem):
            return self._select_pruned_set(problem, num_keep, inverse, support, greedy_objective)
        support, num_swaps = self._local_search(support, quota)
        for method in self.config.warm_starts:
            start = Support(problem, inverse)
            start.remove(sorted(_pruned_by(problem, num_keep, method)))
            start, swaps = self._local_search(start, quota)
            if start.objective < support.objective:
                support, num_swaps = start, swaps
        kept = support.kept_groups()
        return Selection(
            kept=kept,
            weight=problem.refit(kept),
            method="osscar",
            greedy_objective=greedy_objective,
            objective=problem.objective(kept),
            num_swaps=num_swaps,
        )

    def _uses_pruned_set(self, problem: LayerProblem) -> bool:
        if self.config.search == "support":
            return False
        if problem.layout.group_size != 1:
            if self.config.search == "pruned_set":
                raise ValueError("OsscarConfig.search='pruned_set' needs one-column groups (MLP neurons)")
            return False
        return True

    def _select_pruned_set(
        self, problem: LayerProblem, num_keep: int, inverse: torch.Tensor, greedy: Support, greedy_objective: float
    ) -> Selection:
        """Local search over the pruned set from the best of the greedy end point and the warm starts.

        Evaluating a start is one Cholesky of the pruned block, so every start is scored and only the best is
        searched from: the result is never worse than any warm start's refit (the baselines' insurance).
        """
        starts = [set(range(problem.layout.num_groups)) - set(greedy.kept_groups())]
        starts += [_pruned_by(problem, num_keep, method) for method in self.config.warm_starts]
        best = min(starts, key=lambda pruned: SwapSearch.objective_of(problem, inverse, sorted(pruned)))
        search, num_swaps = self._swap_rounds(SwapSearch(problem, inverse, sorted(best)))
        if num_swaps:
            search.refresh()  # the objective and R re-solved from M, free of the updates' rounding
        return Selection(
            kept=search.kept_groups(),
            weight=search.refit_weight(),
            method="osscar",
            greedy_objective=greedy_objective,
            objective=search.objective,
            num_swaps=num_swaps,
        )

    def _swap_rounds(self, search: SwapSearch) -> tuple[SwapSearch, int]:
        """Apply the best 1-for-1 swap among the candidate outs until none lowers f (or the round budget ends).

        Candidates: the `swap_candidates` kept groups cheapest to remove, ranked once at the start (ranking
        costs as much as a round over every kept group); 0 tries every kept group in every round.
        """
        num_swaps = 0
        if not search.pruned.numel() or self.config.max_swap_rounds == 0:
            return search, 0
        pool = None
        if self.config.swap_candidates:
            pool = torch.argsort(search.removal_costs())[: self.config.swap_candidates]
        for _ in range(self.config.max_swap_rounds):
            outs = torch.nonzero(search.kept).reshape(-1) if pool is None else pool[search.kept[pool]]
            if not outs.numel():
                break
            out, back, after = search.best_swap(outs)
            if not after < search.objective * (1 - 1e-12) - 1e-12:
                break
            search.swap(out, back)
            num_swaps += 1
        return search, num_swaps

    def _greedy(self, support: Support, quota: int) -> None:
        """Remove the cheapest groups, a block per step, until every partition holds `quota`."""
        layout = support.problem.layout
        to_remove = layout.num_groups - quota * layout.num_partitions
        per_step = max(1, math.ceil(to_remove / self.config.num_greedy_steps))
        while to_remove > 0:
            block = _cheapest(support, quota, min(per_step, to_remove))
            support.remove(block)
            to_remove -= len(block)

    def _local_search(self, support: Support, quota: int) -> tuple[Support, int]:
        """Best-improvement 1-for-1 swaps until none lowers the objective; returns (support, swaps).

        Each round tries the `swap_candidates` cheapest kept groups as the one to drop; for each, the
        closed-form gains pick the best pruned group to bring back (from the same partition, since the
        drop left only that partition short). The round's best pair is applied if it lowers f.
        """
        num_swaps = 0
        if not (~support.kept).any():
            return support, 0
        for _ in range(self.config.max_swap_rounds):
            costs = support.removal_costs()
            best = support
            candidates = self.config.swap_candidates or costs.numel()
            for out in torch.argsort(costs)[:candidates].tolist():
                if not math.isfinite(float(costs[out])):
                    break
                trial = support.clone()
                trial.remove([out])
                back = _best_addition(trial, quota, exclude=out)
                if back is None:
                    continue
                trial.add([back])
                if trial.objective < best.objective * (1 - 1e-12) - 1e-12:
                    best = trial
            if best is support:
                break
            support, num_swaps = best, num_swaps + 1
        return support, num_swaps


def _pruned_by(problem: LayerProblem, num_keep: int, method: str) -> set[int]:
    """The groups a baseline would prune: a warm start for local search."""
    kept = problem.layout.top_groups(BASELINE_SCORES[method](problem), num_keep)
    return set(range(problem.layout.num_groups)) - set(kept)


def _cheapest(support: Support, quota: int, count: int) -> list[int]:
    """The `count` cheapest kept groups to remove without taking any partition below `quota`."""
    layout = support.problem.layout
    costs = support.removal_costs()
    per_partition = support.kept.reshape(layout.num_partitions, layout.groups_per_partition).sum(dim=1)
    room = [int(n) - quota for n in per_partition]
    chosen: list[int] = []
    for g in torch.argsort(costs).tolist():
        if len(chosen) == count or not math.isfinite(float(costs[g])):
            break
        part = layout.partition_of(g)
        if room[part] > 0:
            chosen.append(g)
            room[part] -= 1
    return chosen


def _best_addition(support: Support, quota: int, exclude: int) -> int | None:
    """The pruned group (not `exclude`) with the largest gain among partitions holding fewer than `quota`."""
    layout = support.problem.layout
    gains = support.addition_gains()
    gains[exclude] = -math.inf
    for p in range(layout.num_partitions):
        span = slice(p * layout.groups_per_partition, (p + 1) * layout.groups_per_partition)
        if int(support.kept[span].sum()) >= quota:
            gains[span] = -math.inf
    best = int(torch.argmax(gains))
    return best if math.isfinite(float(gains[best])) else None
