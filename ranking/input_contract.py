"""How a client renders a member and candidates as text for one model: the model's input contract.

A model learns on text rendered one way ("Title (Year) | Genres", "rated 4.5", a profile of certain fields); a
client that renders the same member differently gets a worse ranking with no error. The contract says how, in
words and with an example request, and travels in the checkpoint's card so `GET /v1/models` can show it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

UNSPECIFIED = "not specified by the model's author"


@dataclass(frozen=True)
class InputContract:
    """How an item, an action and a profile are written; `example` is a complete `/rank` request body."""

    item: str = UNSPECIFIED
    action: str = UNSPECIFIED
    profile: str = UNSPECIFIED
    example: dict[str, Any] | None = field(default=None, compare=False)
    # How to compute `label_rates`, for models whose prompt config shows them (None: the model does not).
    label_rates: str | None = None
    # How to compute candidates' `similar_rates`, for models whose prompt config shows them.
    similar_rates: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"item": self.item, "action": self.action, "profile": self.profile}
        if self.label_rates is not None:
            out["label_rates"] = self.label_rates
        if self.similar_rates is not None:
            out["similar_rates"] = self.similar_rates
        if self.example is not None:
            out["example"] = self.example
        return out
