"""The variant policy: split by weight over 10,000 members, sticky, and a weight change moves the fewest members."""

from collections import Counter

import pytest

from ranking.variant_policy import VariantPolicy

MEMBERS = [f"member-{i}" for i in range(10_000)]


@pytest.mark.parametrize("weights", [{"a": 50, "b": 50}, {"a": 90, "b": 10}, {"a": 1, "b": 2, "c": 7}])
def test_split_follows_the_weights_within_3_percent(weights) -> None:
    policy = VariantPolicy.from_mapping(weights)
    counts = Counter(policy.assign(m) for m in MEMBERS)
    for name, share in policy.shares().items():
        assert abs(counts[name] / len(MEMBERS) - share) <= 0.03, (name, counts)


def test_a_member_always_gets_the_same_variant() -> None:
    policy = VariantPolicy.from_mapping({"a": 70, "b": 30})
    first = [policy.assign(m) for m in MEMBERS[:2000]]
    again = [VariantPolicy.from_mapping({"b": 30, "a": 70}).assign(m) for m in MEMBERS[:2000]]  # order-free
    assert first == again


def moves(before: dict, after: dict) -> dict[tuple[str, str], int]:
    old, new = VariantPolicy.from_mapping(before), VariantPolicy.from_mapping(after)
    pairs = Counter((old.assign(m), new.assign(m)) for m in MEMBERS)
    return {pair: n for pair, n in pairs.items() if pair[0] != pair[1]}


def test_a_two_way_weight_change_moves_only_the_changed_share() -> None:
    moved = moves({"a": 90, "b": 10}, {"a": 80, "b": 20})
    assert set(moved) == {("a", "b")}
    assert abs(moved["a", "b"] / len(MEMBERS) - 0.10) <= 0.015


def test_adding_or_removing_a_variant_moves_only_its_members() -> None:
    added = moves({"a": 50, "b": 50}, {"a": 50, "b": 50, "c": 25})
    assert {to for _, to in added} == {"c"} and abs(sum(added.values()) / len(MEMBERS) - 0.2) <= 0.02
    removed = moves({"a": 50, "b": 50, "c": 25}, {"a": 50, "b": 50})
    assert {frm for frm, _ in removed} == {"c"}


def test_a_three_way_weight_change_moves_close_to_the_minimum() -> None:
    moved = moves({"a": 80, "b": 10, "c": 10}, {"a": 70, "b": 20, "c": 10})  # at least 10% must move
    assert sum(moved.values()) / len(MEMBERS) <= 0.12
    assert ("b", "a") not in moved and ("b", "c") not in moved  # b only grows: none of its members leave


def test_zero_weight_gets_nobody_and_a_new_salt_reshuffles() -> None:
    policy = VariantPolicy.from_mapping({"a": 1, "b": 0})
    assert {policy.assign(m) for m in MEMBERS[:500]} == {"a"}
    one = VariantPolicy.from_mapping({"a": 1, "b": 1}, salt="exp-1")
    two = VariantPolicy.from_mapping({"a": 1, "b": 1}, salt="exp-2")
    differ = sum(one.assign(m) != two.assign(m) for m in MEMBERS[:2000])
    assert 800 < differ < 1200  # independent experiments: about half the members differ


@pytest.mark.parametrize("weights", [{}, {"a": 0}, {"a": -1}, {"a": float("nan")}])
def test_bad_weights_are_refused(weights) -> None:
    with pytest.raises(ValueError):
        VariantPolicy.from_mapping(weights)
