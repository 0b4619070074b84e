"""The user+item bias model restricted to the past: refitted for each member on what was known before its cutoff.

`BiasBaseline` is fitted once on the whole train period. Under the per-member chronological split that period
holds other members' interactions from after a given member's test period began (MovieLens spans 1996-2018), so
its item biases know how items were rated later. This baseline fits the same model (the same alternating ridge
least squares, penalties and sweeps; in numpy here, with BiasBaseline's plain loops as its test reference) once
per distinct cutoff, on the train-period interactions strictly before it, and scores each member with the fit of
its own cutoff: the information a prompt may show (training/data/label_rates.py obeys the same rule).
"""

from __future__ import annotations

import bisect

import numpy as np

from training.data.example_builder import cutoff_time
from training.data.split import ChronologicalSplit
from training.evaluation.baselines import BIAS_ITEM_REG, BIAS_SWEEPS, BIAS_USER_REG


class BiasAsOfCutoff:
    """P(positive) = mu + b_member + b_item of one task's label, fitted on the known interactions before each
    member's cutoff of `period`."""

    name = "user+item bias, as of cutoff"
    is_probability = True

    def __init__(
        self,
        split: ChronologicalSplit,
        period: str,
        task: str,
        user_reg: float = BIAS_USER_REG,
        item_reg: float = BIAS_ITEM_REG,
        num_iterations: int = BIAS_SWEEPS,
    ) -> None:
        known = sorted(split.period_events("train"), key=lambda e: e.timestamp)
        if not known:
            raise ValueError("BiasAsOfCutoff needs train interactions")
        self.regs, self.num_iterations = (user_reg, item_reg), num_iterations
        self.members = {m: i for i, m in enumerate(dict.fromkeys(e.member_id for e in known))}
        self.items = {m: i for i, m in enumerate(dict.fromkeys(e.item_id for e in known))}
        self._rows = np.array([self.members[e.member_id] for e in known])
        self._cols = np.array([self.items[e.item_id] for e in known])
        self._labels = np.array([e.label(task) for e in known], dtype=np.float64)
        times = [e.timestamp for e in known]
        cutoffs = {m: cutoff_time(p, p.period_start(period)) for m, p in split.members.items()}
        fits = {c: self._fit(bisect.bisect_left(times, c)) for c in sorted(set(cutoffs.values()))}
        self._fit_of = {m: fits[c] for m, c in cutoffs.items()}

    def _fit(self, num_known: int) -> tuple[float, np.ndarray, np.ndarray] | None:
        """(mu, member biases, item biases) from the first `num_known` interactions; None when there are none."""
        if num_known == 0:
            return None
        rows, cols, y = self._rows[:num_known], self._cols[:num_known], self._labels[:num_known]
        mu = float(y.mean())
        user = np.zeros(len(self.members))
        user_reg, item_reg = self.regs
        for _ in range(self.num_iterations):
            item = _ridge(cols, y - mu - user[rows], len(self.items), item_reg)
            user = _ridge(rows, y - mu - item[cols], len(self.members), user_reg)
        return mu, user, item

    def score(self, member_id: str, item_id: str) -> float:
        fit = self._fit_of.get(member_id)
        if fit is None:
            return 0.5  # nothing was known before this member's cutoff
        mu, user, item = fit
        member, index = self.members.get(member_id), self.items.get(item_id)
        return mu + (user[member] if member is not None else 0.0) + (item[index] if index is not None else 0.0)


def _ridge(keys: np.ndarray, residuals: np.ndarray, size: int, reg: float) -> np.ndarray:
    """Closed-form ridge bias per key: sum of its residuals / (reg + its count); keys never seen get 0."""
    return np.bincount(keys, residuals, size) / (reg + np.bincount(keys, minlength=size))
