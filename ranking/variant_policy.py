"""The A/B variant policy: weighted, deterministic, sticky assignment of members to served models.

Weighted rendezvous hashing: every (member, variant) pair gets a uniform hash u in (0, 1) and the score
`weight / -ln(u)`; the member goes to the variant with the highest score. Variant i then wins with probability
weight_i / sum(weights), the same member always lands on the same variant while the weights are unchanged, and a
weight change moves only the members that must move: raising one variant's weight moves members to it from the
others, never between two others. Plain Python, no randomness at run time.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_SALT = "slmrank-ab"


def unit_hash(*parts: str) -> float:
    """A uniform number in (0, 1) from the parts (blake2b, 64 bits)."""
    digest = hashlib.blake2b("\0".join(parts).encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") + 0.5) / 2.0**64


@dataclass(frozen=True)
class VariantPolicy:
    """Variant name -> weight (>= 0, at least one > 0); `salt` names the experiment (a new salt reshuffles)."""

    weights: tuple[tuple[str, float], ...]
    salt: str = DEFAULT_SALT

    def __post_init__(self) -> None:
        names = [n for n, _ in self.weights]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be unique, got {names}")
        if any(not (w >= 0 and math.isfinite(w)) for _, w in self.weights):
            raise ValueError("variant weights must be finite and >= 0")
        if not any(w > 0 for _, w in self.weights):
            raise ValueError("at least one variant needs a weight > 0")

    @classmethod
    def from_mapping(cls, weights: Mapping[str, float], salt: str = DEFAULT_SALT) -> VariantPolicy:
        return cls(tuple(weights.items()), salt)

    def assign(self, member_id: str) -> str:
        """The variant of `member_id`."""
        best_name, best_score = "", -1.0
        for name, weight in self.weights:
            if weight <= 0:
                continue
            score = weight / -math.log(unit_hash(self.salt, name, member_id))
            if score > best_score:
                best_name, best_score = name, score
        return best_name

    def shares(self) -> dict[str, float]:
        """The configured share of each variant (weights normalised)."""
        total = sum(w for _, w in self.weights)
        return {name: w / total for name, w in self.weights}
