"""A non-LLM baseline that knows only the past: user + item bias from the label rates as of each member's cutoff.

The user+item bias model is fitted on the whole train period, which under the per-member chronological split
holds other members' interactions from after a given member's test period began (MovieLens spans 1996-2018).
This baseline sees exactly what a label-rates prompt shows (training/data/label_rates.py, all strictly before
the member's cutoff): P = prior + (member rate - prior) + (item rate - prior), clipped to (0, 1).
"""

from __future__ import annotations

from training.data.example_builder import cutoff_time, label_rates_for
from training.data.label_rates import LabelRates
from training.data.split import ChronologicalSplit

EPSILON = 1e-4


class RateBaseline:
    """Scores one task's candidates of one period by the member's and the item's rates as of that period."""

    name = "user+item rates, as of cutoff"
    is_probability = True

    def __init__(self, split: ChronologicalSplit, period: str, task: str, rates: LabelRates | None = None) -> None:
        """`rates`: the split's label rates when the caller already has them (one per task otherwise)."""
        self.rates = rates if rates is not None else label_rates_for(split)
        self.task = task
        self.cutoffs: dict[str, int] = {}
        self.member_rates: dict[str, float] = {}
        for member_id, periods in split.members.items():
            index = periods.period_start(period)
            cutoff = cutoff_time(periods, index)
            self.cutoffs[member_id] = cutoff
            self.member_rates[member_id] = self.rates.member(periods.events[:index], cutoff)[task]

    def score(self, member_id: str, item_id: str) -> float:
        cutoff = self.cutoffs[member_id]
        prior = self.rates.prior_before(cutoff)[self.task]
        item = self.rates.item(item_id, cutoff)[self.task]
        return min(max(self.member_rates[member_id] + item - prior, EPSILON), 1.0 - EPSILON)
