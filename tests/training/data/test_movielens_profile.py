"""Profile and history rendering of a MovieLens member."""

from __future__ import annotations

import numpy as np

from training.data.movielens import Movie, Rating
from training.data.movielens_profile import ProfileAccumulator, profile_from_ratings, rating_action

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


def test_rating_action() -> None:
    assert rating_action(3.0) == "rated 3.0"


def test_accumulator_matches_the_profile_of_every_prefix(movielens) -> None:
    for ratings in list(movielens.user_ratings.values())[:3]:
        acc = ProfileAccumulator(movielens.movies)
        for i, r in enumerate(ratings):
            assert acc.profile() == profile_from_ratings(ratings[:i], movielens.movies)
            acc.add(r)


def test_profile_with_nothing_liked_uses_all_ratings() -> None:
    ratings = [Rating(7, 2, 2.0, 10), Rating(7, 2, 1.0, 11)]
    assert profile_from_ratings(ratings, MOVIES)["favourite genres"] == "Animation, Comedy"
    assert np.isclose(float(profile_from_ratings(ratings, MOVIES)["average rating"]), 1.5)
