"""The strongest baseline that knows only the past: the as-of-cutoff bias model plus item-to-item neighbours.

score = BiasAsOfCutoff's P(positive) + (similar-items rate - member rate): the member's rate on the items other
members treat as the candidate's neighbours (training/data/similar_rates.py), as a deviation from the member's
own rate, added unweighted. Both parts see only interactions strictly before the member's cutoff. The bias model
orders a member's candidates by how others rated them; the neighbour term adds what this member thought of
similar items, the personal signal the bias model lacks.
"""

from __future__ import annotations

from training.data.example_builder import cutoff_time, label_rates_for, similar_rates_for
from training.data.label_rates import LabelRates
from training.data.similar_rates import SimilarItemRates
from training.data.split import ChronologicalSplit
from training.evaluation.bias_as_of_cutoff import BiasAsOfCutoff


class BiasPlusSimilarItems:
    """One task's candidates of one period scored by bias-as-of-cutoff plus the similar-items deviation."""

    name = "user+item bias + similar items, as of cutoff"
    is_probability = False  # a bias probability plus a rate difference: a score, not a calibrated probability

    def __init__(
        self,
        split: ChronologicalSplit,
        period: str,
        task: str,
        bias: BiasAsOfCutoff | None = None,
        rates: LabelRates | None = None,
        similar: SimilarItemRates | None = None,
    ) -> None:
        """`bias`, `rates`, `similar`: the ones the caller already has (built here otherwise)."""
        self.bias = bias if bias is not None else BiasAsOfCutoff(split, period, task)
        rates = rates if rates is not None else label_rates_for(split)
        similar = similar if similar is not None else similar_rates_for(split)
        assert similar is not None  # required: too large a table raises
        self._deviation: dict[tuple[str, str], float] = {}
        for member_id, periods in split.members.items():
            index = periods.period_start(period)
            items = [e.item_id for e in periods.period(period)]
            if not items:
                continue
            history, cutoff = periods.events[:index], cutoff_time(periods, index)
            member_rate = rates.member(history, cutoff)
            for item_id, shown in zip(items, similar.rates(history, items, cutoff, member_rate), strict=True):
                self._deviation[member_id, item_id] = shown[task] - member_rate[task]

    def score(self, member_id: str, item_id: str) -> float:
        return self.bias.score(member_id, item_id) + self._deviation.get((member_id, item_id), 0.0)
