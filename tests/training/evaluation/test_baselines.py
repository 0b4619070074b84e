"""Non-LLM baselines: popularity counts and a bias model that recovers planted biases."""

from __future__ import annotations

import numpy as np
import pytest

from training.data.movielens import Rating
from training.evaluation.baselines import BiasBaseline, PopularityBaseline


def test_popularity_counts() -> None:
    train = [Rating(1, 10, 4.0, 0), Rating(2, 10, 3.0, 0), Rating(2, 11, 5.0, 0)]
    pop = PopularityBaseline(train)
    assert (pop.score(9, 10), pop.score(9, 11), pop.score(9, 12)) == (2.0, 1.0, 0.0)


def test_bias_model_recovers_planted_biases() -> None:
    rng = np.random.default_rng(0)
    users = rng.normal(0, 0.5, 30)
    items = rng.normal(0, 0.7, 20)
    train = [
        Rating(u, i, 3.5 + users[u] + items[i] + float(rng.normal(0, 0.05)), 0) for u in range(30) for i in range(20)
    ]
    model = BiasBaseline(train, user_reg=0.1, item_reg=0.1, num_iterations=30)
    predicted = [model.score(u, i) for u in range(30) for i in range(20)]
    actual = [r.rating for r in train]
    assert np.corrcoef(predicted, actual)[0, 1] > 0.99
    assert model.score(99, 999) == pytest.approx(model.mu)
