"""Plain reference for OSSCAR's closed-form updates: re-solve least squares from scratch on every support."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch


def support_objective(damped: torch.Tensor, weight: torch.Tensor, cols: Sequence[int]) -> float:
    """f(S) = min_W ‖X(B − W)‖² + λ̄‖B − W‖², by expanding the quadratic at the explicit solve."""
    target = damped @ weight
    w_hat = torch.zeros_like(weight)
    idx = torch.as_tensor(list(cols), dtype=torch.long)
    if idx.numel():
        w_hat[idx] = torch.linalg.solve(damped[idx][:, idx], target[idx])
    diff = weight - w_hat
    return float(torch.einsum("pq,pr,rq->", diff, damped, diff))


def group_columns(groups: Sequence[int], group_size: int) -> list[int]:
    return [g * group_size + j for g in groups for j in range(group_size)]


def best_support(
    damped: torch.Tensor, weight: torch.Tensor, num_groups: int, group_size: int, num_keep: int
) -> tuple[tuple[int, ...], float]:
    """Exhaustive search over all supports of `num_keep` groups (tiny problems only)."""
    best: tuple[tuple[int, ...], float] = ((), float("inf"))
    for kept in itertools.combinations(range(num_groups), num_keep):
        value = support_objective(damped, weight, group_columns(kept, group_size))
        if value < best[1]:
            best = (kept, value)
    return best
