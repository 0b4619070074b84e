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


def test_matrix_factorisation_recovers_a_planted_low_rank_structure_the_bias_model_cannot() -> None:
    from training.evaluation.auc import mean_member_auc
    from training.evaluation.matrix_factorisation import MatrixFactorisation, MatrixFactorisationConfig

    rng = np.random.default_rng(1)
    # Two member tastes x two item kinds: within a member, only the interaction term separates the items.
    taste = rng.integers(0, 2, 60)
    kind = rng.integers(0, 2, 50)
    rates = np.where(taste[:, None] == kind[None, :], 0.85, 0.15)
    seen = rng.random(rates.shape) < 0.5
    train = [event(u, i, int(rng.random() < rates[u, i])) for u in range(60) for i in range(50) if seen[u, i]]
    held = [(u, i) for u in range(60) for i in range(50) if not seen[u, i]]
    members = [str(u) for u, _ in held]
    truth = np.array([rates[u, i] > 0.5 for u, i in held])
    mf = MatrixFactorisation(train, "t", MatrixFactorisationConfig(rank=2, reg=1.0))
    bias = BiasBaseline(train, "t")
    mf_auc = mean_member_auc(members, np.array([mf.score(str(u), str(i)) for u, i in held]), truth)
    bias_auc = mean_member_auc(members, np.array([bias.score(str(u), str(i)) for u, i in held]), truth)
    assert mf_auc > 0.95 and bias_auc < 0.7
    assert mf.score("99", "999") == pytest.approx(mf.mu)


def test_tuning_picks_the_setting_best_on_val_and_refuses_an_empty_val() -> None:
    from training.evaluation.matrix_factorisation import tune_matrix_factorisation

    rng = np.random.default_rng(2)
    taste, kind = rng.integers(0, 2, 40), rng.integers(0, 2, 30)
    label = taste[:, None] == kind[None, :]
    cells = [(u, i) for u in range(40) for i in range(30)]
    picks = rng.random(len(cells))
    train = [event(u, i, int(label[u, i])) for (u, i), p in zip(cells, picks, strict=True) if p < 0.5]
    val = [event(u, i, int(label[u, i])) for (u, i), p in zip(cells, picks, strict=True) if p >= 0.8]
    config, tries = tune_matrix_factorisation(train, val, "t", ranks=(1, 4), regs=(0.5, 500.0))
    assert len(tries) == 4
    assert max(t["val_member_auc"] for t in tries) == next(
        t["val_member_auc"] for t in tries if (t["rank"], t["reg"]) == (config.rank, config.reg)
    )
    assert config.reg == 0.5  # a penalty of 500 shrinks every factor to nothing
    with pytest.raises(ValueError, match="val"):
        tune_matrix_factorisation(train, [], "t")


def test_the_rates_baseline_adds_member_and_item_offsets_as_of_each_cutoff(split) -> None:
    from training.data.example_builder import cutoff_time, label_rates_for
    from training.evaluation.rate_baseline import RateBaseline

    baseline = RateBaseline(split, "test", "like")
    rates = label_rates_for(split)
    periods = split.members["2"]
    cutoff = cutoff_time(periods, periods.test_start)
    prior = rates.prior_before(cutoff)["like"]
    member = rates.member(periods.events[: periods.test_start], cutoff)["like"]
    for event in periods.test:
        item = rates.item(event.item_id, cutoff)["like"]
        assert baseline.score("2", event.item_id) == pytest.approx(min(max(member + item - prior, 1e-4), 1 - 1e-4))
    # Within a member it orders candidates by item rate alone.
    items = [e.item_id for e in periods.test]
    by_score = sorted(items, key=lambda i: baseline.score("2", i))
    assert [rates.item(i, cutoff)["like"] for i in by_score] == sorted(rates.item(i, cutoff)["like"] for i in items)
