"""Non-LLM baselines: popularity counts and a bias model of a task's label that recovers planted biases."""

from __future__ import annotations

import numpy as np
import pytest

from training.data.dataset import Event
from training.evaluation.baselines import BiasBaseline, PopularityBaseline


def event(member: int, item: int, label: int) -> Event:
    return Event(str(member), str(item), 0, "viewed", {"t": label})


def test_popularity_counts() -> None:
    pop = PopularityBaseline([event(1, 10, 1), event(2, 10, 0), event(2, 11, 1)])
    assert (pop.score("9", "10"), pop.score("9", "11"), pop.score("9", "12")) == (2.0, 1.0, 0.0)


def test_bias_model_recovers_planted_biases() -> None:
    rng = np.random.default_rng(0)
    users = rng.normal(0, 0.15, 40)
    items = rng.normal(0, 0.2, 30)
    rates = np.clip(0.5 + users[:, None] + items[None, :], 0.02, 0.98)
    train = [event(u, i, int(rng.random() < rates[u, i])) for u in range(40) for i in range(30) for _ in range(8)]
    model = BiasBaseline(train, "t", user_reg=0.1, item_reg=0.1, num_iterations=30)
    predicted = [model.score(str(u), str(i)) for u in range(40) for i in range(30)]
    assert np.corrcoef(predicted, rates.flatten())[0, 1] > 0.9
    assert model.score("99", "999") == pytest.approx(model.mu)
