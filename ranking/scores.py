"""From the label tokens' log-probabilities to a ranking score."""

from __future__ import annotations

import math
from enum import StrEnum


class ScoreType(StrEnum):
    """`probability` = P(yes) / (P(yes) + P(no)); `log_odds` = log P(yes) - log P(no)."""

    PROBABILITY = "probability"
    LOG_ODDS = "log_odds"


def score_from_logprobs(positive_logprob: float, negative_logprob: float, score_type: ScoreType) -> float:
    """One candidate's score from the full-vocabulary log-probs of its two label tokens."""
    log_odds = positive_logprob - negative_logprob
    if score_type is ScoreType.LOG_ODDS:
        return log_odds
    # P(yes)/(P(yes)+P(no)) == sigmoid(log_odds); written to stay finite for any log_odds.
    if log_odds >= 0:
        return 1.0 / (1.0 + math.exp(-log_odds))
    z = math.exp(log_odds)
    return z / (1.0 + z)
