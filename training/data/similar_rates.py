"""Item-to-item collaborative signal as prompt text: the member's own positive rate on items like the candidate.

Two items are alike when the same members interacted with them: sim(a, b) is the cosine of their sets of members
(|M_a & M_b| / sqrt(|M_a| |M_b|)) over the known interactions strictly before the request. For a candidate c and
the member's own earlier interactions i with labels y_i, the rate shown for a task is

    (sum_i sim(c, i) * y_i + SMOOTHING * member_rate) / (sum_i sim(c, i) + SMOOTHING)

the member's rate on the items other members treat as c's neighbours, falling back to the member's own rate
(training/data/label_rates.py) when nothing alike is known. It is what item-kNN collaborative filtering scores,
and the evaluation's `user+item bias + similar items, as of cutoff` baseline adds it to the bias model's score.

No leakage: at cutoff t, M_x holds the members with a known interaction with x before t, and the member's
interactions are those before t. Known interactions are the train period's, as for label rates.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from training.data.dataset import Event
from training.setup_error import SetupError

# Pseudo-weight of the member's own rate: a candidate with one weak neighbour stays near the member's rate.
SMOOTHING = 1.0
# The first-interaction table is items x members int64; larger datasets are refused up front.
MAX_TABLE_BYTES = 2 * 1024**3
NEVER = np.iinfo(np.int64).max


class SimilarItemRates:
    """Per-task member rates on items similar to a candidate, as of a cutoff."""

    def __init__(self, known: Iterable[Event], tasks: Sequence[str]) -> None:
        events = list(known)
        self.tasks = tuple(tasks)
        self.items = {i: n for n, i in enumerate(dict.fromkeys(e.item_id for e in events))}
        members = {m: n for n, m in enumerate(dict.fromkeys(e.member_id for e in events))}
        size = _table_bytes(len(self.items), len(members))
        if size > MAX_TABLE_BYTES:
            raise SetupError(
                f"similar-items rates: {len(self.items)} items x {len(members)} members need a "
                f"{size / 1024**3:.1f} GiB table (limit {MAX_TABLE_BYTES / 1024**3:.1f} GiB)"
            )
        # first[x, m]: when member m first interacted with item x (NEVER if not known).
        self._first = np.full((len(self.items), len(members)), NEVER, dtype=np.int64)
        rows = np.array([self.items[e.item_id] for e in events], dtype=np.int64)
        cols = np.array([members[e.member_id] for e in events], dtype=np.int64)
        np.minimum.at(self._first, (rows, cols), np.array([e.timestamp for e in events], dtype=np.int64))

    @staticmethod
    def fits(known: Iterable[Event]) -> bool:
        """Whether the first-interaction table of these interactions is within MAX_TABLE_BYTES."""
        events = list(known)
        items, members = {e.item_id for e in events}, {e.member_id for e in events}
        return _table_bytes(len(items), len(members)) <= MAX_TABLE_BYTES

    def rates(
        self, history: Sequence[Event], item_ids: Sequence[str], before: int, member_rates: Mapping[str, float]
    ) -> list[dict[str, float]]:
        """One {task: rate} per candidate item; `history` is the member's interactions before `before`."""
        past = [e for e in history if e.item_id in self.items and e.timestamp < before]
        if not past:
            return [dict(member_rates) for _ in item_ids]
        candidates = np.array([self.items.get(i, -1) for i in item_ids], dtype=np.int64)
        seen_c = (self._first[np.maximum(candidates, 0)] < before) & (candidates >= 0)[:, None]
        seen_h = self._first[[self.items[e.item_id] for e in past]] < before
        overlap = seen_c.astype(np.float32) @ seen_h.astype(np.float32).T  # [candidates, history]
        norms = np.sqrt(seen_c.sum(axis=1))[:, None] * np.sqrt(seen_h.sum(axis=1))[None, :]
        sims = np.divide(overlap, norms, out=np.zeros_like(overlap, dtype=np.float64), where=norms > 0)
        labels = np.array([[e.labels[t] for t in self.tasks] for e in past], dtype=np.float64)
        prior = np.array([member_rates[t] for t in self.tasks])
        shown = (sims @ labels + SMOOTHING * prior) / (sims.sum(axis=1, keepdims=True) + SMOOTHING)
        return [{t: float(row[k]) for k, t in enumerate(self.tasks)} for row in shown]


def _table_bytes(num_items: int, num_members: int) -> int:
    return num_items * num_members * np.dtype(np.int64).itemsize


def contract_text() -> str:
    """How a client computes the similar-items rates this model was trained on (the card's input.similar_rates)."""
    k = f"{SMOOTHING:g}"
    return (
        "for each task and candidate c, (sum_i sim(c, i) * y_i + "
        f"{k} * member.label_rates) / (sum_i sim(c, i) + {k}) over the member's own interactions i before the "
        "request (y_i: their 0/1 label), where sim(a, b) = |M_a & M_b| / sqrt(|M_a| * |M_b|) and M_x is the set of "
        "members with an interaction with item x before the request; the member's label rate when no such i exists"
    )


def with_similar_rates(example: dict[str, Any] | None) -> dict[str, Any] | None:
    """A /rank example request whose candidates carry similar-items rates (each the member's label rate)."""
    if example is None:
        return None
    out = copy.deepcopy(example)
    member_rates = (out.get("member") or {}).get("label_rates") or {}
    for candidate in out.get("candidates", []):
        if isinstance(candidate, dict):
            candidate["similar_rates"] = dict(member_rates)
    return out
