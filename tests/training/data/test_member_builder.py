"""Profile and history rendering of a MovieLens member."""

from __future__ import annotations

from training.data.member_builder import build_member, profile_from_ratings, rating_action
from training.data.movielens import Movie, Rating

MOVIES = {
    1: Movie(1, "Heat (1995)", ("Action", "Crime", "Thriller")),
    2: Movie(2, "Toy Story (1995)", ("Animation", "Comedy")),
    3: Movie(3, "Se7en (1995)", ("Crime", "Thriller")),
}


def test_profile_fields_and_values() -> None:
    ratings = [Rating(7, 1, 5.0, 10), Rating(7, 2, 2.0, 11), Rating(7, 3, 4.5, 12)]
    profile = profile_from_ratings(ratings, MOVIES)
    assert list(profile) == ["favourite genres", "average rating", "ratings"]
    # Crime and Thriller come from the two liked movies; Action ties on count 1 with nothing else liked.
    assert profile["favourite genres"] == "Crime, Thriller, Action"
    assert profile["average rating"] == "3.8"
    assert profile["ratings"] == "3"


def test_empty_profile() -> None:
    assert profile_from_ratings([], MOVIES)["ratings"] == "0"


def test_member_history_lines() -> None:
    ratings = [Rating(7, 1, 4.5, 10), Rating(7, 2, 3.0, 11)]
    member = build_member(7, ratings, ratings[:1], MOVIES, max_history=1)
    assert member.id == "u7"
    assert [h.item for h in member.history] == ["Toy Story (1995) | Animation|Comedy"]
    assert member.history[0].action == "rated 3.0" == rating_action(3.0)
    assert member.profile["ratings"] == "1"
