"""RadixCache against brute-force longest-prefix matching, with invariants checked after every operation."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from ranking.engine.radix_cache import RadixCache, RadixNode
from tests.reference.engine_radix_reference import ListSegment, longest_prefix_len


def tree_paths(cache: RadixCache) -> list[tuple[int, ...]]:
    """Every root-to-node token path, read straight off the tree."""
    out, stack = [], [(cache.root, ())]
    while stack:
        node, path = stack.pop()
        for child in node.children.values():
            out.append(path + child.key)
            stack.append((child, path + child.key))
    return out


def all_nodes(cache: RadixCache) -> list[RadixNode]:
    out, stack = [], list(cache.root.children.values())
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node.children.values())
    return out


def check_invariants(cache: RadixCache, locked: list[RadixNode]) -> None:
    nodes = all_nodes(cache)
    reachable = set(map(id, nodes))
    expected_locks: Counter[int] = Counter()
    for node in locked:
        assert node is cache.root or id(node) in reachable, "a locked node was evicted"
        cur: RadixNode | None = node
        while cur is not None and cur is not cache.root:
            expected_locks[id(cur)] += 1
            cur = cur.parent
    for node in nodes:
        assert node.lock_ref == expected_locks[id(node)] >= 0
        assert node.key and node.parent is not None and node.parent.children[node.key[0]] is node
        assert isinstance(node.value, ListSegment) and node.value.ids == node.key
    assert cache.bytes_in_use == sum(n.nbytes for n in nodes)
    assert cache.bytes_in_use <= cache.budget_bytes


def depth(node: RadixNode) -> int:
    return 0 if node.parent is None else len(node.key) + depth(node.parent)


def random_ids(rng: random.Random) -> list[int]:
    # A small alphabet makes shared prefixes and mid-node splits common.
    return [rng.randrange(3) for _ in range(rng.randint(0, 10))]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("budget", [10_000, 160])
def test_random_operations_match_brute_force(seed: int, budget: int) -> None:
    rng = random.Random(seed)
    cache = RadixCache(budget_bytes=budget)
    inserted: list[tuple[int, ...]] = []
    locked: list[RadixNode] = []
    refused = False  # an insert that did not fit the budget: `inserted` is then no longer all cached
    for _ in range(300):
        op = rng.random()
        if op < 0.5:  # a request: match, lock, insert the rest, move the lock to the new leaf
            ids = random_ids(rng)
            match = cache.match_prefix(ids)
            expected = longest_prefix_len(tree_paths(cache), ids)
            assert match.length == expected
            if cache.num_evictions == 0 and not refused:
                assert match.length == longest_prefix_len(inserted, ids)
            assert tuple(t for s in match.segments for t in s.ids) == tuple(ids[: match.length])
            cache.inc_lock_ref(match.node)
            leaf = cache.insert(ids, ListSegment(tuple(ids[match.length :])), match.length)
            refused = refused or depth(leaf) < len(ids)
            cache.inc_lock_ref(leaf)
            cache.dec_lock_ref(match.node)
            locked.append(leaf)
            inserted.append(tuple(ids))
        elif op < 0.85 and locked:
            cache.dec_lock_ref(locked.pop(rng.randrange(len(locked))))
        else:
            cache.evict(rng.randint(0, 100))
        check_invariants(cache, locked)
    for node in locked:
        cache.dec_lock_ref(node)
    cache.evict(cache.bytes_in_use)
    assert not cache.root.children and cache.bytes_in_use == 0
    check_invariants(cache, [])


def test_lru_leaf_is_evicted_first() -> None:
    cache = RadixCache(budget_bytes=8 * 6)
    for ids in ([1, 2, 3], [4, 5, 6]):
        cache.insert(ids, ListSegment(tuple(ids)), 0)
    cache.match_prefix([1, 2, 3])  # [4, 5, 6] is now least recently used
    cache.insert([7, 8], ListSegment((7, 8)), 0)
    assert sorted(tree_paths(cache)) == [(1, 2, 3), (7, 8)]
    assert cache.num_evictions == 1 and cache.evicted_bytes == 24


def test_insert_that_cannot_fit_keeps_locked_nodes() -> None:
    cache = RadixCache(budget_bytes=8 * 3)
    leaf = cache.insert([1, 2, 3], ListSegment((1, 2, 3)), 0)
    cache.inc_lock_ref(leaf)
    assert cache.insert([9], ListSegment((9,)), 0) is cache.root
    assert tree_paths(cache) == [(1, 2, 3)]


def test_dec_lock_ref_below_zero_raises() -> None:
    cache = RadixCache(budget_bytes=100)
    leaf = cache.insert([1], ListSegment((1,)), 0)
    with pytest.raises(RuntimeError):
        cache.dec_lock_ref(leaf)


def test_insert_rejects_wrong_value_length() -> None:
    with pytest.raises(ValueError):
        RadixCache(100).insert([1, 2], ListSegment((1,)), 0)
