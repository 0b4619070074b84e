"""Member affinity: rendezvous (highest-random-weight) hashing with a bounded-load cap.

Each member key ranks every replica by hash(key, replica); the member goes to the first replica in that
order whose load is under the cap. When a replica leaves, only the members that ranked it first move
(the minimum possible), and the cap (Mirrokni et al., "Consistent Hashing with Bounded Loads", 2018)
keeps one hot member from piling everything onto its favourite replica.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


def _weight(key: str, node: str) -> int:
    """A uniform 64-bit score for (key, node); blake2b, so stable across processes and Pythons."""
    digest = hashlib.blake2b(f"{node}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass(frozen=True)
class RendezvousHashConfig:
    """`load_factor` c >= 1: no node takes more than ceil(c * (total load + 1) / num_nodes) at once."""

    load_factor: float = field(
        default=1.25, metadata={"help": "Bounded load: no replica takes more than this times its fair share at once."}
    )

    def __post_init__(self) -> None:
        if self.load_factor < 1.0:
            raise ValueError("RendezvousHashConfig.load_factor must be >= 1.0")


class RendezvousHash:
    """Orders nodes for a key; picks the first node under the bounded-load cap."""

    def __init__(self, config: RendezvousHashConfig | None = None) -> None:
        self.config = config or RendezvousHashConfig()

    def order(self, key: str, nodes: Sequence[str]) -> list[str]:
        """All nodes, the key's preferred one first; ties (never in practice) broken by name."""
        return sorted(nodes, key=lambda n: (-_weight(key, n), n))

    def capacity(self, total_load: int, num_nodes: int) -> int:
        """The most load one node may carry once one more request is placed."""
        return max(1, math.ceil(self.config.load_factor * (total_load + 1) / max(1, num_nodes)))

    def pick(self, key: str, nodes: Sequence[str], loads: Mapping[str, int]) -> list[str]:
        """The nodes in the order to try: the first under the cap, then the rest in hash order."""
        ordered = self.order(key, nodes)
        cap = self.capacity(sum(loads.get(n, 0) for n in nodes), len(nodes))
        for i, node in enumerate(ordered):
            if loads.get(node, 0) + 1 <= cap:
                return [node, *ordered[:i], *ordered[i + 1 :]]
        return ordered
