"""A member, their interaction history and the candidates to rank: plain data, no tokenizer, no HTTP."""

from __future__ import annotations

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
    """Who we rank for. `profile` is free text or ordered fields; history is in any order (sorted by the builder)."""

    id: str
    profile: str | dict[str, Any] | None = None
    history: tuple[Interaction, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """One item to score; `metadata` is opaque to ranking and handed back untouched."""

    id: str
    text: str
    metadata: dict[str, Any] | None = field(default=None, compare=False)
