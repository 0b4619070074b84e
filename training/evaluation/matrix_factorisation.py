"""A biased matrix factorisation of one task's 0/1 label, fitted by alternating ridge least squares (ALS).

P(positive) ~ mu + b_member + b_item + p_member . q_item, every factor and bias fitted on the train period only.
Members and items never seen in training fall back to the parts that are known (mu, and the other side's bias),
so it degrades to the bias baseline rather than failing. Rank and regularisation are chosen on the val period by
`tune_matrix_factorisation`; nothing here knows what the items are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from training.data.dataset import Event


@dataclass(frozen=True)
class MatrixFactorisationConfig:
    """Latent rank, ridge penalty (per factor and bias, not scaled by counts), ALS sweeps and the init seed."""

    rank: int = 16
    reg: float = 5.0
    num_iterations: int = 12
    seed: int = 0

    def __post_init__(self) -> None:
        if self.rank < 1 or self.reg <= 0 or self.num_iterations < 1:
            raise ValueError("MatrixFactorisationConfig needs rank >= 1, reg > 0 and num_iterations >= 1")


class MatrixFactorisation:
    """Biased MF of one task's label; `score(member_id, item_id)` is a (clipped-free) estimate of P(positive)."""

    name = "matrix factorisation"
    is_probability = True

    def __init__(self, train: Sequence[Event], task: str, config: MatrixFactorisationConfig | None = None) -> None:
        if not train:
            raise ValueError("MatrixFactorisation needs train interactions")
        self.task = task
        self.config = config or MatrixFactorisationConfig()
        self.members = {m: i for i, m in enumerate(dict.fromkeys(e.member_id for e in train))}
        self.items = {m: i for i, m in enumerate(dict.fromkeys(e.item_id for e in train))}
        rows = np.array([self.members[e.member_id] for e in train])
        cols = np.array([self.items[e.item_id] for e in train])
        y = np.array([e.label(task) for e in train], dtype=np.float64)
        self.mu = float(y.mean())
        rng = np.random.default_rng(self.config.seed)
        k = self.config.rank
        # Each side's vector is [factors, own bias]; the other side's bias is moved into the target.
        self.member_vec = np.concatenate(
            [rng.normal(0, 0.1, (len(self.members), k)), np.zeros((len(self.members), 1))], 1
        )
        self.item_vec = np.concatenate([rng.normal(0, 0.1, (len(self.items), k)), np.zeros((len(self.items), 1))], 1)
        by_member, by_item = _groups(rows), _groups(cols)
        for _ in range(self.config.num_iterations):
            self.item_vec = self._solve(by_item, rows, y, self.member_vec)
            self.member_vec = self._solve(by_member, cols, y, self.item_vec)

    def _solve(
        self, groups: list[np.ndarray], other_index: np.ndarray, y: np.ndarray, other_vec: np.ndarray
    ) -> np.ndarray:
        """Ridge solution of one side's [factors, bias] per entity, the other side's [factors, bias] fixed."""
        k = self.config.rank
        out = np.zeros((len(groups), k + 1))
        penalty = self.config.reg * np.eye(k + 1)
        for entity, idx in enumerate(groups):
            other = other_vec[other_index[idx]]
            design = np.concatenate([other[:, :k], np.ones((idx.size, 1))], 1)
            target = y[idx] - self.mu - other[:, k]
            out[entity] = np.linalg.solve(design.T @ design + penalty, design.T @ target)
        return out

    def score(self, member_id: str, item_id: str) -> float:
        k = self.config.rank
        m, i = self.members.get(member_id), self.items.get(item_id)
        value = self.mu
        if m is not None:
            value += self.member_vec[m, k]
        if i is not None:
            value += self.item_vec[i, k]
        if m is not None and i is not None:
            value += float(self.member_vec[m, :k] @ self.item_vec[i, :k])
        return float(value)


def _groups(index: np.ndarray) -> list[np.ndarray]:
    """For entity 0..n-1 the positions of its interactions."""
    order = np.argsort(index, kind="stable")
    bounds = np.searchsorted(index[order], np.arange(int(index.max()) + 2))
    return [order[bounds[e] : bounds[e + 1]] for e in range(int(index.max()) + 1)]


RANKS = (4, 16, 48)
REGS = (2.0, 10.0, 40.0)


def tune_matrix_factorisation(
    train: Sequence[Event],
    val: Sequence[Event],
    task: str,
    ranks: Sequence[int] = RANKS,
    regs: Sequence[float] = REGS,
) -> tuple[MatrixFactorisationConfig, list[dict[str, float]]]:
    """The (rank, reg) with the best val per-member AUC of `task` (fits on `train` only), and every try's figures."""
    if not val:
        raise ValueError("tuning MatrixFactorisation needs val-period interactions")
    from training.evaluation.auc import mean_member_auc

    members = [e.member_id for e in val]
    labels = np.array([e.label(task) for e in val])
    tries = []
    for rank in ranks:
        for reg in regs:
            model = MatrixFactorisation(train, task, MatrixFactorisationConfig(rank=rank, reg=reg))
            scores = np.array([model.score(e.member_id, e.item_id) for e in val])
            tries.append({"rank": rank, "reg": reg, "val_member_auc": mean_member_auc(members, scores, labels)})
    # A val period without any member holding both classes scores NaN everywhere: then the first setting wins.
    best = max(tries, key=lambda t: -np.inf if np.isnan(t["val_member_auc"]) else t["val_member_auc"])
    return MatrixFactorisationConfig(rank=int(best["rank"]), reg=float(best["reg"])), tries
