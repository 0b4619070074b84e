"""Plain rendezvous hashing with bounded loads, written the obvious way, to check RendezvousHash against."""

from __future__ import annotations

import hashlib
import math


def weight(key: str, node: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{node}\x00{key}".encode(), digest_size=8).digest(), "big")


def preferred(key: str, nodes: list[str]) -> str:
    """The node with the highest weight for the key."""
    best = nodes[0]
    for node in nodes[1:]:
        if weight(key, node) > weight(key, best) or (weight(key, node) == weight(key, best) and node < best):
            best = node
    return best


def bounded_pick(key: str, nodes: list[str], loads: dict[str, int], load_factor: float) -> str:
    """Drop nodes at the cap, then take the preferred one among the rest (all nodes if every one is full)."""
    cap = max(1, math.ceil(load_factor * (sum(loads.get(n, 0) for n in nodes) + 1) / len(nodes)))
    open_nodes = [n for n in nodes if loads.get(n, 0) + 1 <= cap]
    return preferred(key, open_nodes or nodes)
