"""The layerwise reconstruction problem that every structured-pruning selection is judged on.

One linear layer, written in the input-major form the maths uses: X [N, p] are the layer's
inputs on calibration tokens, B [p, q] = linear.weight.T the dense weights, and the p inputs are split into
`num_groups` contiguous groups of `group_size` columns (an MLP neuron: 1 column of down_proj; an attention
head: head_dim columns of o_proj). Pruning keeps a subset S of groups and asks for Ŵ (zero outside S) with
small ‖XB − XŴ‖²_F = tr((B − Ŵ)ᵀ H (B − Ŵ)), H = XᵀX. Only H is ever needed, never X.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class GroupLayout:
    """How the p inputs split into prunable groups, and the partitions that must keep equal counts.

    Partitions are contiguous runs of groups (e.g. the query heads that share one KV head under GQA); a
    selection keeps the same number of groups in every partition so the pruned layer stays rectangular.
    """

    num_groups: int
    group_size: int
    num_partitions: int = 1

    def __post_init__(self) -> None:
        if self.num_groups < 1 or self.group_size < 1 or self.num_partitions < 1:
            raise ValueError("GroupLayout sizes must be >= 1")
        if self.num_groups % self.num_partitions:
            raise ValueError(f"{self.num_groups} groups do not split into {self.num_partitions} partitions")

    @property
    def num_inputs(self) -> int:
        return self.num_groups * self.group_size

    @property
    def groups_per_partition(self) -> int:
        return self.num_groups // self.num_partitions

    def partition_of(self, group: int) -> int:
        return group // self.groups_per_partition

    def keep_per_partition(self, num_keep: int) -> int:
        """Groups each partition keeps; `num_keep` must split evenly."""
        if not 1 <= num_keep <= self.num_groups:
            raise ValueError(f"num_keep={num_keep} outside [1, {self.num_groups}]")
        if num_keep % self.num_partitions:
            raise ValueError(f"num_keep={num_keep} is not a multiple of {self.num_partitions} partitions")
        return num_keep // self.num_partitions

    def columns(self, groups: Sequence[int]) -> torch.Tensor:
        """Input indices [len(groups) * group_size] of the given groups, in group order."""
        base = torch.as_tensor(list(groups), dtype=torch.long).unsqueeze(1) * self.group_size
        return (base + torch.arange(self.group_size)).reshape(-1)

    def top_groups(self, scores: torch.Tensor, num_keep: int) -> tuple[int, ...]:
        """The highest-scoring groups [num_groups] -> sorted kept groups, equal count per partition."""
        quota = self.keep_per_partition(num_keep)
        per_partition = scores.reshape(self.num_partitions, self.groups_per_partition)
        top = per_partition.topk(quota, dim=1).indices
        offsets = torch.arange(self.num_partitions, device=scores.device).unsqueeze(1) * self.groups_per_partition
        return tuple(sorted((top + offsets).reshape(-1).tolist()))


def damped_gram(gram: torch.Tensor, damp: float) -> torch.Tensor:
    """H + λ·mean(diag H)·I in float64: keeps H_SS invertible when inputs are dead or collinear."""
    gram = gram.double()
    mean_diag = float(gram.diagonal().mean())
    scale = damp * mean_diag if mean_diag > 0 else 1e-8
    return gram + scale * torch.eye(gram.shape[0], dtype=torch.float64, device=gram.device)


class LayerProblem:
    """One layer's Gram matrix, dense weights and group layout; measures and refits selections."""

    def __init__(
        self,
        gram: torch.Tensor,
        weight: torch.Tensor,
        layout: GroupLayout,
        damp: float = 0.01,
        device: str | torch.device = "cpu",
    ):
        """gram [p, p] = XᵀX; weight [p, q] = linear.weight.T; damp the ridge used by refits; device of the maths."""
        p = layout.num_inputs
        if gram.shape != (p, p) or weight.shape[0] != p:
            raise ValueError(f"gram {tuple(gram.shape)} / weight {tuple(weight.shape)} do not match p={p}")
        self.layout = layout
        # The solvers run in float64 on `device` (CPU by default; a GPU's float64 is fast enough for p in the
        # thousands, and the index bookkeeping stays small).
        self.device = torch.device(device)
        self.gram = gram.detach().double().to(self.device)
        self.weight = weight.detach().double().to(self.device).contiguous()  # row-major: rows are groups
        self.damped = damped_gram(self.gram, damp)
        # The ridge pulls Ŵ toward B: the refit minimises ‖X(B − Ŵ)‖² + λ̄‖B − Ŵ‖², whose normal equations
        # have right-hand side H_d B rather than H B.
        self.target = self.damped @ self.weight
        self.dense_energy = float(torch.einsum("pq,pr,rq->", self.weight, self.gram, self.weight))

    def error(self, weight_hat: torch.Tensor) -> float:
        """‖XB − XŴ‖²_F for Ŵ [p, q]."""
        diff = self.weight - weight_hat.double()
        return float(torch.einsum("pq,pr,rq->", diff, self.gram, diff))

    def relative_error(self, weight_hat: torch.Tensor) -> float:
        """‖XB − XŴ‖² / ‖XB‖²: 0 is perfect, 1 is as bad as zeroing the layer."""
        return self.error(weight_hat) / max(self.dense_energy, 1e-300)

    def masked(self, kept: Sequence[int]) -> torch.Tensor:
        """B with the rows of pruned groups zeroed (no refit) [p, q]."""
        out = torch.zeros_like(self.weight)
        cols = self.layout.columns(kept)
        out[cols] = self.weight[cols]
        return out

    def refit(self, kept: Sequence[int]) -> torch.Tensor:
        """Least-squares Ŵ on the kept support, Ŵ_S = H_SS⁻¹ (H_d B)_S, zero elsewhere [p, q]."""
        cols = self.layout.columns(kept)
        out = torch.zeros_like(self.weight)
        chol = torch.linalg.cholesky(self.damped[cols][:, cols])
        out[cols] = torch.cholesky_solve(self.target[cols], chol)
        return out

    def objective(self, kept: Sequence[int]) -> float:
        """The damped objective after refit: ‖X(B − Ŵ)‖² + λ̄‖B − Ŵ‖² at the optimal Ŵ on `kept`."""
        cols = self.layout.columns(kept)
        chol = torch.linalg.cholesky(self.damped[cols][:, cols])
        g_s = self.target[cols]
        full = float(torch.einsum("pq,pr,rq->", self.weight, self.damped, self.weight))
        return full - float((g_s * torch.cholesky_solve(g_s, chol)).sum())


def num_kept(num_groups: int, sparsity: float, multiple_of: int = 1) -> int:
    """Groups kept at a pruned fraction `sparsity`, rounded down to a multiple (never below one multiple)."""
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    keep = math.floor(round(num_groups * (1.0 - sparsity), 6))
    keep = max(multiple_of, keep // multiple_of * multiple_of)
    return min(keep, num_groups)


@dataclass(frozen=True)
class Selection:
    """A layer's kept groups and the weights [p, q] on them (zero on pruned groups)."""

    kept: tuple[int, ...]
    weight: torch.Tensor
    method: str
    greedy_objective: float = math.nan
    objective: float = math.nan
    num_swaps: int = 0
