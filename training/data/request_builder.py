"""A `POST /rank` body for a real MovieLens member, rendered exactly as training rendered its prompts.

This is what a recommendation client does: the member's known ratings become history lines and a profile
(through training.data.member_builder), and unseen movies become candidates in the `Title (Year) | Genres` form.
"""

from __future__ import annotations

from typing import Any

from training.data.member_builder import build_member, candidate
from training.data.split import ChronologicalSplit, MemberPeriods


def rank_request(
    split: ChronologicalSplit,
    user_id: int,
    task: str = "like",
    num_candidates: int = 10,
    max_history: int = 50,
    top_n: int | None = None,
) -> dict[str, Any]:
    """A /rank body for `user_id`: history and profile as of the test period, test movies as candidates.

    The candidates are the member's own (hidden) test-period movies, so the response can be checked against
    what they really rated; their ratings are in each candidate's metadata for that purpose, which the service
    hands back untouched and never shows the model.
    """
    if user_id not in split.members:
        raise KeyError(f"no MovieLens member {user_id}; ids run from {min(split.members)} to {max(split.members)}")
    periods: MemberPeriods = split.members[user_id]
    history = periods.ratings[: periods.test_start]
    member = build_member(user_id, history, periods.train, split.movies, max_history=max_history)
    cands = [candidate(split.movies[r.movie_id], r) for r in periods.test[:num_candidates]]
    return {
        "member": {
            "id": member.id,
            "profile": member.profile,
            "history": [{"item": h.item, "action": h.action, "timestamp": h.timestamp} for h in member.history],
        },
        "candidates": [{"id": c.id, "text": c.text, "metadata": c.metadata} for c in cands],
        "task": task,
        "top_n": top_n or len(cands),
        "score_type": "probability",
    }
