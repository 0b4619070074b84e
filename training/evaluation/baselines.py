"""Non-LLM baselines, fitted on the train period: item popularity, and a user + item bias model of one task's label.

The matrix factorisation baseline lives in matrix_factorisation.py.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Protocol

from training.data.dataset import Event


class Baseline(Protocol):
    """What the evaluator needs of a non-LLM baseline: a score for a member and an item."""

    name: str
    is_probability: bool

    def score(self, member_id: str, item_id: str) -> float: ...


class PopularityBaseline:
    """Score = number of train-period interactions with the item (unseen items score 0); not a probability."""

    name = "popularity"
    is_probability = False

    def __init__(self, train: Sequence[Event]) -> None:
        self.counts = Counter(e.item_id for e in train)

    def score(self, member_id: str, item_id: str) -> float:
        return float(self.counts.get(item_id, 0))


# The bias model's ridge penalties and alternating sweeps, shared with its as-of-cutoff refits (bias_as_of_cutoff.py).
BIAS_USER_REG = 5.0
BIAS_ITEM_REG = 5.0
BIAS_SWEEPS = 10


class BiasBaseline:
    """P(positive) = mu + b_member + b_item of one task's 0/1 label, fitted by alternating ridge least squares."""

    name = "user+item bias"
    is_probability = True

    def __init__(
        self,
        train: Sequence[Event],
        task: str,
        user_reg: float = BIAS_USER_REG,
        item_reg: float = BIAS_ITEM_REG,
        num_iterations: int = BIAS_SWEEPS,
    ) -> None:
        if not train:
            raise ValueError("BiasBaseline needs train interactions")
        self.task = task
        self.mu = sum(e.label(task) for e in train) / len(train)
        self.user_bias: dict[str, float] = defaultdict(float)
        self.item_bias: dict[str, float] = defaultdict(float)
        for _ in range(num_iterations):
            self.item_bias = self._fit(train, lambda e: e.item_id, lambda e: self.user_bias[e.member_id], item_reg)
            self.user_bias = self._fit(train, lambda e: e.member_id, lambda e: self.item_bias[e.item_id], user_reg)

    def _fit(
        self, train: Sequence[Event], key: Callable[[Event], str], other: Callable[[Event], float], reg: float
    ) -> defaultdict[str, float]:
        """Closed-form ridge solution of one side's biases with the other side fixed."""
        sums: defaultdict[str, float] = defaultdict(float)
        counts: Counter[str] = Counter()
        for e in train:
            sums[key(e)] += e.label(self.task) - self.mu - other(e)
            counts[key(e)] += 1
        return defaultdict(float, {k: sums[k] / (reg + counts[k]) for k in counts})

    def score(self, member_id: str, item_id: str) -> float:
        return self.mu + self.user_bias.get(member_id, 0.0) + self.item_bias.get(item_id, 0.0)
