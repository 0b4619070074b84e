"""Item-to-item similar-items rates by plain set counting: the reference for training.data.similar_rates."""

from __future__ import annotations

import math
from collections.abc import Sequence

from training.data.dataset import Event


def similar_items_rate(
    known: Sequence[Event],
    history: Sequence[Event],
    item_id: str,
    before: int,
    member_rate: float,
    task: str,
    smoothing: float,
) -> float:
    """(sum_i cos(item, i) * y_i + smoothing * member_rate) / (sum_i cos(item, i) + smoothing), sets of members
    from `known` interactions strictly before `before`, i over the member's history strictly before it."""
    raters: dict[str, set[str]] = {}
    for e in known:
        if e.timestamp < before:
            raters.setdefault(e.item_id, set()).add(e.member_id)
    target = raters.get(item_id, set())
    weighted, total = 0.0, 0.0
    for e in history:
        if e.timestamp >= before or e.item_id not in raters or not target:
            continue
        other = raters[e.item_id]
        sim = len(target & other) / math.sqrt(len(target) * len(other))
        weighted += sim * e.labels[task]
        total += sim
    return (weighted + smoothing * member_rate) / (total + smoothing)
