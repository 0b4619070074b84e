"""Non-LLM baselines, fitted on the train period: item popularity, and a user + item bias model."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from training.data.movielens import Rating


class PopularityBaseline:
    """Score = number of train-period ratings of the movie (unseen movies score 0)."""

    name = "popularity"

    def __init__(self, train: Sequence[Rating]) -> None:
        self.counts = Counter(r.movie_id for r in train)

    def score(self, user_id: int, movie_id: int) -> float:
        return float(self.counts.get(movie_id, 0))


class BiasBaseline:
    """Predicted rating mu + b_user + b_item, fitted by alternating ridge-regularised least squares."""

    name = "user+item bias"

    def __init__(
        self, train: Sequence[Rating], user_reg: float = 5.0, item_reg: float = 5.0, num_iterations: int = 10
    ) -> None:
        if not train:
            raise ValueError("BiasBaseline needs train ratings")
        self.mu = sum(r.rating for r in train) / len(train)
        self.user_bias: dict[int, float] = defaultdict(float)
        self.item_bias: dict[int, float] = defaultdict(float)
        for _ in range(num_iterations):
            self.item_bias = self._fit(train, lambda r: r.movie_id, lambda r: self.user_bias[r.user_id], item_reg)
            self.user_bias = self._fit(train, lambda r: r.user_id, lambda r: self.item_bias[r.movie_id], user_reg)

    def _fit(self, train, key, other, reg) -> defaultdict[int, float]:
        """Closed-form ridge solution of one side's biases with the other side fixed."""
        sums: defaultdict[int, float] = defaultdict(float)
        counts: Counter[int] = Counter()
        for r in train:
            sums[key(r)] += r.rating - self.mu - other(r)
            counts[key(r)] += 1
        return defaultdict(float, {k: sums[k] / (reg + counts[k]) for k in counts})

    def score(self, user_id: int, movie_id: int) -> float:
        return self.mu + self.user_bias.get(user_id, 0.0) + self.item_bias.get(movie_id, 0.0)
