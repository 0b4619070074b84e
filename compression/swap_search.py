"""OSSCAR's local search for one-column groups (MLP neurons), solved over the pruned set instead of the kept one.

With M = H_d⁻¹ (the damped Gram's inverse, computed once) and P the pruned inputs, the refit objective is the
block Optimal-Brain-Surgeon cost of removing P from the dense layer:

    f(P) = tr(B_Pᵀ C B_P),   C = (M_PP)⁻¹,   R = C B_P  (the residuals r of osscar.Support, one row per pruned input).

P is the small side (30% of 3072 neurons: 922 against 2150 kept), and every 1-for-1 swap (o leaves S, i leaves P)
has a closed form from C and R: bordering M_PP with o gives v = C M_Po, s = M_oo − M_oPᵀ v, e = B_o − M_oPᵀ R and

    f(P + o) = f + ‖e‖²/s,  r'_i = R_i − v_i e/s,  C'_ii = C_ii + v_i²/s,  f(P + o − i) = f(P + o) − ‖r'_i‖²/C'_ii.

So all (o, i) pairs of a round cost two matrix products, O(n²·m + n·q·m) for n pruned and m candidate outs, where
the kept-side form (osscar.Support.addition_gains) costs O(p²·n) per candidate. The best pair is applied and C, R
are updated by the same bordering and its inverse (O(n² + n·q) per swap; `refresh` re-solves from M once the
search ends). The weights on S follow as Ŵ_S = B_S − M_SP R.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from compression.layer_problem import LayerProblem


class SwapSearch:
    """The pruned set P of a one-column-group problem, with C = (M_PP)⁻¹ and R = C B_P kept current."""

    def __init__(self, problem: LayerProblem, inverse: torch.Tensor, pruned: Sequence[int]):
        """inverse: M = H_d⁻¹ [p, p] (shared, never written); pruned: the groups (= inputs) not kept."""
        if problem.layout.group_size != 1:
            raise ValueError("SwapSearch handles one-column groups; use osscar.Support for wider groups")
        self.problem = problem
        self.m = inverse
        self.kept = torch.ones(problem.layout.num_groups, dtype=torch.bool, device=inverse.device)
        self.kept[torch.as_tensor(list(pruned), dtype=torch.long, device=inverse.device)] = False
        self.refresh()

    def refresh(self) -> None:
        """C, R and f solved afresh from M and the current P (rows of C and R in `pruned` order)."""
        self.pruned = torch.nonzero(~self.kept).reshape(-1)
        chol = torch.linalg.cholesky(self.m[self.pruned][:, self.pruned])
        self.c = torch.cholesky_inverse(chol)
        self.r = self.c @ self.problem.weight[self.pruned]
        self.objective = float((self.problem.weight[self.pruned] * self.r).sum())

    @staticmethod
    def objective_of(problem: LayerProblem, inverse: torch.Tensor, pruned: Sequence[int]) -> float:
        """f(P) alone (one Cholesky and a triangular solve): to rank start points cheaply."""
        idx = torch.as_tensor(list(pruned), dtype=torch.long, device=inverse.device)
        chol = torch.linalg.cholesky(inverse[idx][:, idx])
        return float(torch.linalg.solve_triangular(chol, problem.weight[idx], upper=False).pow(2).sum())

    def kept_groups(self) -> tuple[int, ...]:
        return tuple(torch.nonzero(self.kept).reshape(-1).tolist())

    def best_swap(self, outs: torch.Tensor) -> tuple[int, int, float]:
        """(o, i, f after the swap) for the best pair with o in `outs` (kept) and i pruned, same partition."""
        pruned, weight, layout = self.pruned, self.problem.weight, self.problem.layout
        m_po = self.m[outs][:, pruned].T  # [n, m] (M is symmetric: gather m rows, not n)
        v = self.c @ m_po  # [n, m]
        s = self.m[outs, outs] - (m_po * v).sum(dim=0)  # [m]
        e = weight[outs] - m_po.T @ self.r  # [m, q]
        e_norm = e.pow(2).sum(dim=1)  # [m]
        r_norm = self.r.pow(2).sum(dim=1, keepdim=True)  # [n, 1]
        r_dot_e = self.r @ e.T  # [n, m]
        new_r_norm = r_norm - 2 * v * r_dot_e / s + v.pow(2) * e_norm / s.pow(2)
        new_c_diag = self.c.diagonal()[:, None] + v.pow(2) / s
        after = self.objective + e_norm / s - new_r_norm / new_c_diag  # [n, m]: f(P + o − i)
        if layout.num_partitions > 1:
            same = (pruned // layout.groups_per_partition)[:, None] == (outs // layout.groups_per_partition)[None, :]
            after = after.masked_fill(~same, float("inf"))
        flat = int(torch.argmin(after))
        row, col = divmod(flat, after.shape[1])
        return int(outs[col]), int(pruned[row]), float(after[row, col])

    def swap(self, out: int, back: int) -> None:
        """Prune `out`, keep `back` again: border C, R with `out`, then take `back` out (two rank-1 updates)."""
        m_po = self.m[out][self.pruned]  # [n]
        v = self.c @ m_po
        s = self.m[out, out] - m_po @ v
        e = self.problem.weight[out] - m_po @ self.r  # [q]
        n = v.numel()
        c = self.c.new_empty((n + 1, n + 1))
        c[:n, :n] = self.c + torch.outer(v, v) / s
        c[:n, n] = c[n, :n] = -v / s
        c[n, n] = 1.0 / s
        r = torch.cat([self.r - torch.outer(v, e) / s, (e / s)[None]])
        order = torch.cat([self.pruned, self.pruned.new_tensor([out])])
        i = int(torch.nonzero(order == back)[0, 0])
        column = c[:, i].clone()
        self.objective += float(e @ e / s) - float(r[i] @ r[i] / column[i])
        c -= torch.outer(column, column) / column[i]
        r -= torch.outer(column, r[i]) / column[i]
        rest = torch.arange(n + 1, device=c.device) != i
        self.c, self.r, self.pruned = c[rest][:, rest], r[rest], order[rest]
        self.kept[out], self.kept[back] = False, True

    def removal_costs(self) -> torch.Tensor:
        """f(P + o) − f(P) for every kept o [num_groups] (inf for pruned groups): the cheapest outs to try."""
        pruned, kept = self.pruned, torch.nonzero(self.kept).reshape(-1)
        m_pk = self.m[pruned][:, kept]  # [n, |S|]
        v = self.c @ m_pk
        s = self.m[kept, kept] - (m_pk * v).sum(dim=0)
        e = self.problem.weight[kept] - m_pk.T @ self.r
        costs = torch.full((self.problem.layout.num_groups,), float("inf"), dtype=torch.float64, device=self.m.device)
        costs[kept] = e.pow(2).sum(dim=1) / s
        return costs

    def refit_weight(self) -> torch.Tensor:
        """Ŵ [p, q]: B_S − M_SP R on the kept inputs, zero on the pruned ones (the least-squares refit on S)."""
        pruned = self.pruned
        weight = self.problem.weight - self.m[:, pruned] @ self.r
        weight[pruned] = 0.0
        return weight
