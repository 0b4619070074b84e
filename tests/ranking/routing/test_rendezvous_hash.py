"""Rendezvous hashing: agrees with the plain reference, spreads keys, moves the minimum, holds the cap."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranking.routing.rendezvous_hash import RendezvousHash, RendezvousHashConfig
from tests.reference.backends_rendezvous_reference import bounded_pick, preferred

NODES = [f"http://10.0.0.{i}:30000" for i in range(1, 6)]
KEYS = [f"member-{i}" for i in range(5000)]


def test_first_choice_matches_reference():
    rh = RendezvousHash()
    for key in KEYS[:500]:
        assert rh.order(key, NODES)[0] == preferred(key, NODES)


def test_distribution_is_even():
    counts = Counter(RendezvousHash().order(k, NODES)[0] for k in KEYS)
    expected = len(KEYS) / len(NODES)
    assert set(counts) == set(NODES)
    assert all(abs(c - expected) < 0.1 * expected for c in counts.values()), counts


def test_removing_a_node_moves_only_its_keys_to_their_second_choice():
    rh = RendezvousHash()
    gone = NODES[2]
    rest = [n for n in NODES if n != gone]
    moved = 0
    for key in KEYS:
        before = rh.order(key, NODES)
        after = rh.order(key, rest)[0]
        if before[0] == gone:
            moved += 1
            assert after == before[1]
        else:
            assert after == before[0]
    assert abs(moved - len(KEYS) / len(NODES)) < 0.1 * len(KEYS) / len(NODES)


def test_adding_a_node_takes_keys_only_onto_itself():
    rh = RendezvousHash()
    new = "http://10.0.0.9:30000"
    for key in KEYS[:1000]:
        before, after = rh.order(key, NODES)[0], rh.order(key, [*NODES, new])[0]
        assert after in (before, new)


def test_pick_order_is_a_permutation_with_the_choice_first():
    rh = RendezvousHash()
    order = rh.pick("k", NODES, {n: 0 for n in NODES})
    assert sorted(order) == sorted(NODES) and order == rh.order("k", NODES)


def test_hot_member_is_capped():
    """One member sending many concurrent batches spreads once its favourite replica reaches the cap."""
    rh = RendezvousHash(RendezvousHashConfig(load_factor=1.25))
    loads = dict.fromkeys(NODES, 0)
    for _ in range(100):
        choice = rh.pick("hot-member", NODES, loads)[0]
        cap = rh.capacity(sum(loads.values()), len(NODES))
        loads[choice] += 1
        assert loads[choice] <= cap
    assert max(loads.values()) <= math.ceil(1.25 * 100 / len(NODES))


@settings(max_examples=60, deadline=None)
@given(
    ops=st.lists(st.tuples(st.booleans(), st.integers(0, 40)), min_size=1, max_size=120),
    load_factor=st.sampled_from([1.0, 1.1, 1.25, 2.0]),
)
def test_random_place_release_sequences_hold_the_cap_and_match_reference(ops, load_factor):
    """Invariants after every step: choice == reference, chosen load <= cap, loads never negative."""
    rh = RendezvousHash(RendezvousHashConfig(load_factor=load_factor))
    loads = dict.fromkeys(NODES, 0)
    placed: list[str] = []
    for is_place, key_num in ops:
        if is_place or not placed:
            key = f"m{key_num}"
            want = bounded_pick(key, NODES, loads, load_factor)
            cap = rh.capacity(sum(loads.values()), len(NODES))
            got = rh.pick(key, NODES, loads)[0]
            assert got == want
            loads[got] += 1
            assert loads[got] <= cap
            placed.append(got)
        else:
            loads[placed.pop(key_num % len(placed))] -= 1
        assert min(loads.values()) >= 0


def test_load_factor_below_one_is_rejected():
    with pytest.raises(ValueError, match="load_factor"):
        RendezvousHashConfig(load_factor=0.9)
