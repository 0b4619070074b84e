"""OSSCAR's kept-set state: S with its inverse Gram block and refit weights, updated in closed form.

With the damped Gram H (= XᵀX + λ̄I) and G = H B, the optimum on a support S is Ŵ_S = H_SS⁻¹ G_S. `Support`
carries Hinv = H_SS⁻¹ (embedded in a p×p matrix, zero outside S) and the current refit W, and never re-inverts:
removing a set T costs δ_T = tr(W_Tᵀ [Hinv_TT]⁻¹ W_T) (block Optimal Brain Surgeon) and adding a set A gains
γ_A = tr(r_Aᵀ C_A⁻¹ r_A) with the residual r_A = G_A − H_{A:} W and the Schur complement C_A (see osscar.py).
"""

from __future__ import annotations

import math

import torch

from compression.layer_problem import LayerProblem


class Support:
    """A kept set S with its inverse Gram block and least-squares weights, updated in closed form."""

    def __init__(self, problem: LayerProblem, inverse: torch.Tensor | None = None):
        """Start from every group kept: Hinv = H⁻¹ (copied from `inverse` when given) and W = B."""
        self.problem = problem
        self.hinv = full_inverse(problem) if inverse is None else inverse.clone()
        self.weight = problem.weight.clone()
        self.kept = torch.ones(problem.layout.num_groups, dtype=torch.bool, device=problem.device)
        self.objective = 0.0

    def clone(self) -> Support:
        other = Support.__new__(Support)
        other.problem = self.problem
        other.hinv, other.weight, other.kept = self.hinv.clone(), self.weight.clone(), self.kept.clone()
        other.objective = self.objective
        return other

    def kept_groups(self) -> tuple[int, ...]:
        return tuple(torch.nonzero(self.kept).reshape(-1).tolist())

    def removal_costs(self) -> torch.Tensor:
        """δ_g for every group [num_groups] (inf for groups already removed)."""
        layout = self.problem.layout
        costs = torch.full((layout.num_groups,), math.inf, dtype=torch.float64, device=self.problem.device)
        if layout.group_size == 1:  # neurons: δ_g = ‖w_g‖² / Hinv_gg, one pass, no gathers
            energy = torch.linalg.vector_norm(self.weight, dim=1).square()
            return torch.where(self.kept, energy / self.hinv.diagonal(), costs)
        groups = torch.nonzero(self.kept).reshape(-1)
        if groups.numel():
            idx = layout.columns(groups.tolist()).reshape(groups.numel(), layout.group_size)
            w = self.weight[idx]  # [n, k, q]
            costs[groups] = _quadratic_forms(self.hinv[idx.unsqueeze(2), idx.unsqueeze(1)], w)
        return costs

    def addition_gains(self) -> torch.Tensor:
        """γ_a for every group [num_groups] (-inf for groups already kept)."""
        layout, h = self.problem.layout, self.problem.damped
        gains = torch.full((layout.num_groups,), -math.inf, dtype=torch.float64, device=self.problem.device)
        groups = torch.nonzero(~self.kept).reshape(-1)
        if not groups.numel():
            return gains
        n, k = groups.numel(), layout.group_size
        idx = layout.columns(groups.tolist()).reshape(n, k)
        h_rows = h[idx]  # [n, k, p]
        u = torch.einsum("ij,nkj->nki", self.hinv, h_rows)  # Hinv H_{:a} per group, [n, k, p]
        schur = h[idx.unsqueeze(2), idx.unsqueeze(1)] - torch.einsum("nkp,njp->nkj", h_rows, u)  # C_a [n, k, k]
        resid = self.problem.target[idx] - torch.einsum("nkp,pq->nkq", h_rows, self.weight)  # r_a [n, k, q]
        gains[groups] = _quadratic_forms(schur, resid)
        return gains

    def remove(self, groups: list[int]) -> float:
        """Drop `groups` from S with the block OBS downdate; returns the objective increase δ_T."""
        cols = self.problem.layout.columns(groups)
        hinv_t = self.hinv[:, cols]  # [p, t]; Hinv is symmetric, so its rows T are hinv_tᵀ
        hinv_tt = hinv_t[cols]
        w_t = self.weight[cols]
        solved_w = torch.linalg.solve(hinv_tt, w_t)
        delta = float((w_t * solved_w).sum())
        # In-place rank-t updates: one pass over the p×p inverse per step, no p×p temporary.
        self.weight.addmm_(hinv_t, solved_w, alpha=-1.0)
        self.hinv.addmm_(hinv_t, torch.linalg.solve(hinv_tt, hinv_t.T), alpha=-1.0)
        self.weight[cols] = 0.0
        self.hinv[cols] = 0.0
        self.hinv[:, cols] = 0.0
        self.kept[groups] = False
        self.objective += delta
        return delta

    def add(self, groups: list[int]) -> float:
        """Bring `groups` back into S with the bordered-inverse update; returns the objective decrease γ_A."""
        h = self.problem.damped
        cols = self.problem.layout.columns(groups)
        h_rows = h[cols]
        u = self.hinv @ h_rows.T  # [p, a]: H_SS⁻¹ H_SA embedded
        schur_inv = torch.linalg.inv(h[cols][:, cols] - h_rows @ u)
        resid = self.problem.target[cols] - h_rows @ self.weight
        step = schur_inv @ resid
        gain = float((resid * step).sum())
        self.weight -= u @ step
        self.weight[cols] = step
        self.hinv += u @ schur_inv @ u.T
        self.hinv[:, cols] = -u @ schur_inv
        self.hinv[cols] = (-u @ schur_inv).T
        self.hinv[cols[:, None], cols[None, :]] = schur_inv
        self.kept[groups] = True
        self.objective -= gain
        return gain


def full_inverse(problem: LayerProblem) -> torch.Tensor:
    """M = H_d⁻¹ [p, p], the damped Gram's inverse every search starts from."""
    return torch.cholesky_inverse(torch.linalg.cholesky(problem.damped))


def _quadratic_forms(blocks: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """tr(r_gᵀ A_g⁻¹ r_g) per group: blocks A [n, k, k], rhs r [n, k, q] -> [n]."""
    if blocks.shape[1] == 1:  # neurons: scalar blocks, a division (batched 1×1 solves are slow)
        return rhs.pow(2).sum(dim=(1, 2)) / blocks[:, 0, 0]
    return (rhs * torch.linalg.solve(blocks, rhs)).sum(dim=(1, 2))
