"""A `POST /rank` body for a real member of a dataset, rendered exactly as training rendered its prompts.

This is what a recommendation client does: the member's past interactions become history lines, the profile is
their snapshot as of the request, and unseen items become candidates with their item text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from training.data.example_builder import candidates_at, label_rates_for, member_at, similar_rates_for
from training.data.split import ChronologicalSplit


def rank_request(
    split: ChronologicalSplit,
    member_id: str,
    task: str,
    num_candidates: int = 10,
    max_history: int = 50,
    top_n: int | None = None,
) -> dict[str, Any]:
    """A /rank body for `member_id`: history and profile as of the test period, test items as candidates.

    The candidates are the member's own (hidden) test-period items, so the response can be checked against what
    really happened; their labels are in each candidate's metadata for that purpose, which the service hands back
    untouched and never shows the model. Member and candidates carry their label rates for every task, and the
    candidates their similar-items rates (computed from train-period interactions before the test period, as in
    evaluation; similar-items rates only where the dataset fits their table); models without `prompt.label_rates`
    or `prompt.similar_rates` ignore them.
    """
    if member_id not in split.members:
        known = list(split.members)
        raise KeyError(f"no member {member_id!r} in the dataset; e.g. {known[:3]} ({len(known)} members)")
    periods = split.members[member_id]
    rates = label_rates_for(split)
    similar = similar_rates_for(split, required=False)
    member = member_at(split.data, periods, periods.test_start, max_history=max_history, rates=rates)
    tests = periods.test[:num_candidates]
    cands = candidates_at(split.data, periods, periods.test_start, tests, rates, similar, with_labels=True)
    return {
        "member": {
            "id": member.id,
            "profile": member.profile,
            "history": [{"item": h.item, "action": h.action, "timestamp": h.timestamp} for h in member.history],
            "label_rates": _plain(member.label_rates),
        },
        "candidates": [
            {
                "id": c.id,
                "text": c.text,
                "metadata": c.metadata,
                "label_rates": _plain(c.label_rates),
                **({"similar_rates": _plain(c.similar_rates)} if c.similar_rates is not None else {}),
            }
            for c in cands
        ],
        "task": task,
        "top_n": top_n or len(cands),
        "score_type": "probability",
    }


def _plain(rates: Mapping[str, float] | None) -> dict[str, float]:
    return dict(rates or {})
