import math

import pytest
import torch

from ranking.scores import ScoreType, score_from_logprobs
from tests.reference.plain_scorer import plain_probability


@pytest.mark.parametrize("seed", range(20))
def test_probability_matches_plain_softmax_reference(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(50, generator=gen, dtype=torch.float64) * 5
    logprobs = torch.log_softmax(logits, dim=-1)
    yes, no = 3, 17
    expected = float(logits.softmax(-1)[yes] / (logits.softmax(-1)[yes] + logits.softmax(-1)[no]))
    got = score_from_logprobs(float(logprobs[yes]), float(logprobs[no]), ScoreType.PROBABILITY)
    assert got == pytest.approx(expected, abs=1e-12)
    assert got == pytest.approx(plain_probability(float(logprobs[yes]), float(logprobs[no])), abs=1e-6)


def test_log_odds_is_difference_of_logprobs() -> None:
    assert score_from_logprobs(-0.5, -2.0, ScoreType.LOG_ODDS) == pytest.approx(1.5)


@pytest.mark.parametrize("gap", [-800.0, -40.0, 0.0, 40.0, 800.0])
def test_probability_stays_finite_and_monotone(gap: float) -> None:
    p = score_from_logprobs(gap, 0.0, ScoreType.PROBABILITY)
    assert 0.0 <= p <= 1.0 and math.isfinite(p)
    assert score_from_logprobs(gap + 1e-3, 0.0, ScoreType.PROBABILITY) >= p
