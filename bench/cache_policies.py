"""Reference cache policies over a member stream, for the engine's measured hit ratio to be read against:
a Zipf stream, plain LRU, and Belady's optimum (evict the member whose next request is furthest away)."""

from __future__ import annotations

import random
from collections import OrderedDict


def zipf_stream(num_members: int, num_requests: int, s: float, seed: int) -> list[int]:
    """Member indices drawn with probability proportional to 1 / rank**s."""
    weights = [1 / (rank + 1) ** s for rank in range(num_members)]
    return random.Random(seed).choices(range(num_members), weights=weights, k=num_requests)


def lru_hits(stream: list[int], capacity: int) -> int:
    """Requests whose member is resident in an LRU cache of `capacity` members."""
    cache: OrderedDict[int, None] = OrderedDict()
    hits = 0
    for member in stream:
        if member in cache:
            hits += 1
            cache.move_to_end(member)
            continue
        cache[member] = None
        if len(cache) > capacity:
            cache.popitem(last=False)
    return hits


def belady_hits(stream: list[int], capacity: int) -> int:
    """Requests served from the cache under Belady's clairvoyant policy (the upper bound for any policy)."""
    next_use, upcoming = [0] * len(stream), {}
    for i in range(len(stream) - 1, -1, -1):
        next_use[i] = upcoming.get(stream[i], len(stream))
        upcoming[stream[i]] = i
    resident: dict[int, int] = {}  # member -> index of its next request
    hits = 0
    for i, member in enumerate(stream):
        if member in resident:
            hits += 1
        elif len(resident) >= capacity:
            del resident[max(resident, key=resident.__getitem__)]
        resident[member] = next_use[i]
    return hits
