"""Baseline selections OSSCAR is compared with: weight magnitude and activation-aware (Wanda-style) scores.

Both score each group once and keep the top groups per partition. Plain baselines keep the dense weights
of the survivors (the zeroed groups are simply dropped); `refit=True` adds the same least-squares refit
OSSCAR ends with, which separates "better choice of groups" from "better weights on the same groups".
"""

from __future__ import annotations

import torch

from compression.layer_problem import LayerProblem, Selection


def magnitude_scores(problem: LayerProblem) -> torch.Tensor:
    """‖B_g‖_F per group [num_groups]: the norm of the weights the group feeds."""
    layout = problem.layout
    return problem.weight.reshape(layout.num_groups, -1).norm(dim=1)


def wanda_scores(problem: LayerProblem) -> torch.Tensor:
    """sqrt(Σ_{j∈g} ‖B_j‖² · H_jj) per group: weight norm times input norm (Wanda, made structured)."""
    layout = problem.layout
    row_energy = problem.weight.pow(2).sum(dim=1) * problem.gram.diagonal().clamp_min(0.0)
    return row_energy.reshape(layout.num_groups, layout.group_size).sum(dim=1).sqrt()


BASELINE_SCORES = {"magnitude": magnitude_scores, "wanda": wanda_scores}


def baseline_selection(problem: LayerProblem, num_keep: int, method: str, refit: bool = False) -> Selection:
    """Keep the `num_keep` best groups by a baseline score; weights dense (plain) or least-squares refit."""
    if method not in BASELINE_SCORES:
        raise ValueError(f"unknown baseline {method!r}; expected one of {sorted(BASELINE_SCORES)}")
    kept = problem.layout.top_groups(BASELINE_SCORES[method](problem), num_keep)
    weight = problem.refit(kept) if refit else problem.masked(kept)
    name = f"{method}+refit" if refit else method
    return Selection(kept=kept, weight=weight, method=name, objective=problem.objective(kept))
