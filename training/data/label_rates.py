"""Collaborative signal as prompt text: each item's and each member's positive rate per task, from the past only.

A small LM trained from scratch cannot learn from ~100k interactions which of 9,000 items others liked; a
user+item bias model can. Showing the item's positive rate among other members (and the member's own rate) as a
few tokens gives the model that signal through the prompt alone (CoLLM/BinLLM's idea, rendered as text), so any
engine serves it unchanged.

No leakage: a rate at cutoff time t counts only `known` interactions with timestamp strictly before t. The split
passes the train-period interactions as known, so evaluation rates use no val/test label of any member, like the
baselines fitted on the train period. Rates are smoothed towards the task's overall rate (itself over known
interactions before t): (positives + SMOOTHING * prior) / (count + SMOOTHING); clients compute the same with the
card's prior (docs/data.md).
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from training.data.dataset import Event

# Pseudo-interactions at the prior rate added to every count: an item seen twice is not "100% liked".
SMOOTHING = 10.0


def smoothed_rate(positives: float, count: float, prior: float) -> float:
    return (positives + SMOOTHING * prior) / (count + SMOOTHING)


class LabelRates:
    """Positive rates per task of items (among all known interactions) and members (their own past)."""

    def __init__(self, known: Iterable[Event], tasks: Sequence[str]) -> None:
        self.tasks = tuple(tasks)
        by_item: dict[str, list[Event]] = {}
        for event in known:
            by_item.setdefault(event.item_id, []).append(event)
        self._times: dict[str, list[int]] = {}
        self._cumulative: dict[str, np.ndarray] = {}
        for item_id, events in by_item.items():
            self._times[item_id], self._cumulative[item_id] = self._counts(events)
        # The prior at time t is itself the rate over everything known before t, so no later label moves it.
        self._all_times, self._all_cumulative = self._counts([e for es in by_item.values() for e in es])
        self.prior = self.prior_before(None)

    def _counts(self, events: list[Event]) -> tuple[list[int], np.ndarray]:
        """Timestamps in order and positives per task among the first i events (row 0 is zeros)."""
        events.sort(key=lambda e: e.timestamp)
        labels = np.array([[e.labels[t] for t in self.tasks] for e in events], dtype=np.float64)
        labels = labels.reshape(len(events), len(self.tasks))
        return [e.timestamp for e in events], np.vstack([np.zeros(len(self.tasks)), np.cumsum(labels, axis=0)])

    def prior_before(self, before: int | None) -> dict[str, float]:
        """The positive rate per task over all known interactions strictly before `before` (None: all); 0.5
        before any is known."""
        n = len(self._all_times) if before is None else bisect.bisect_left(self._all_times, before)
        positives = self._all_cumulative[n]
        return {t: float(positives[i] / n) if n else 0.5 for i, t in enumerate(self.tasks)}

    def item(self, item_id: str, before: int) -> dict[str, float]:
        """The item's smoothed positive rate per task over known interactions strictly before `before`."""
        prior = self.prior_before(before)
        times = self._times.get(item_id)
        n = bisect.bisect_left(times, before) if times else 0
        positives = self._cumulative[item_id][n] if n else np.zeros(len(self.tasks))
        return {t: smoothed_rate(float(positives[i]), n, prior[t]) for i, t in enumerate(self.tasks)}

    def member(self, history: Sequence[Event], before: int) -> dict[str, float]:
        """The member's smoothed positive rate per task over their own earlier interactions (`history`)."""
        prior = self.prior_before(before)
        return {t: smoothed_rate(sum(e.labels[t] for e in history), len(history), prior[t]) for t in self.tasks}


def contract_text(prior: Mapping[str, float]) -> str:
    """How a client computes the rates this model was trained on (the card's input.label_rates)."""
    priors = ", ".join(f"{task} {rate:.4f}" for task, rate in prior.items())
    k = f"{SMOOTHING:g}"
    return (
        f"for each task, (positives + {k} * prior) / (interactions + {k}): member.label_rates over the member's "
        f"own interactions before the request, candidates[].label_rates over every member's interactions with "
        f"the item before the request; prior per task: {priors}"
    )


def with_label_rates(example: dict[str, Any] | None, prior: Mapping[str, float]) -> dict[str, Any] | None:
    """A /rank example request with the rates a model that shows them needs (each the prior, to 2 decimals)."""
    if example is None:
        return None
    rates = {task: round(rate, 2) for task, rate in prior.items()}
    out = copy.deepcopy(example)
    if isinstance(out.get("member"), dict):
        out["member"]["label_rates"] = dict(rates)
    for candidate in out.get("candidates", []):
        if isinstance(candidate, dict):
            candidate["label_rates"] = dict(rates)
    return out
