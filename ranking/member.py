"""A member, their interaction history and the candidates to rank: plain data, no tokenizer, no HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Interaction:
    """One thing the member did with one item, e.g. ("Heat (1995) | Action|Crime|Thriller", "liked")."""

    item: str
    action: str
    timestamp: int | None = None


@dataclass(frozen=True)
class Member:
    """Who we rank for. `profile` is free text or ordered fields; history is in any order (sorted by the builder).

    `label_rates` maps a task to the member's past positive rate in [0, 1]; only models whose prompt config has
    `label_rates` show it (ranking/prompt_template.py renders it).
    """

    id: str
    profile: str | dict[str, Any] | None = None
    history: tuple[Interaction, ...] = ()
    label_rates: Mapping[str, float] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Candidate:
    """One item to score; `metadata` is opaque to ranking and handed back untouched.

    `label_rates` maps a task to the item's positive rate among other members in [0, 1] (see Member).
    """

    id: str
    text: str
    metadata: dict[str, Any] | None = field(default=None, compare=False)
    label_rates: Mapping[str, float] | None = field(default=None, compare=False)
    similar_rates: Mapping[str, float] | None = field(default=None, compare=False)
