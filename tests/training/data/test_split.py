"""Chronological per-member split: complete, disjoint, ordered, and no period sees the future."""

from __future__ import annotations

import pytest

from training.data.movielens import chronological_key
from training.data.split import ChronologicalSplit, SplitConfig


def test_periods_partition_each_member(movielens, split: ChronologicalSplit) -> None:
    for user_id, m in split.members.items():
        assert list(m.train + m.val + m.test) == movielens.user_ratings[user_id]
        assert m.train and m.test
        assert len(m.test) == pytest.approx(0.2 * len(m.ratings), abs=1)


def test_no_period_precedes_an_earlier_one(split: ChronologicalSplit) -> None:
    for m in split.members.values():
        for earlier, later in ((m.train, m.val), (m.train, m.test), (m.val, m.test)):
            if earlier and later:
                assert max(map(chronological_key, earlier)) < min(map(chronological_key, later))


def test_same_second_ties_are_broken_by_movie_id(split: ChronologicalSplit) -> None:
    ties = 0
    for m in split.members.values():
        for a, b in zip(m.ratings, m.ratings[1:], strict=False):
            if a.timestamp == b.timestamp:
                ties += 1
                assert a.movie_id < b.movie_id
    assert ties > 0  # the fixture has ties, so the tie-break is exercised


def test_bad_fractions_raise() -> None:
    with pytest.raises(ValueError):
        SplitConfig(test_fraction=0.0)
