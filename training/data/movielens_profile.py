"""How the MovieLens demo renders a member: `rated 4.5` actions and a profile summarised from known ratings.

MovieLens-specific: only the converter (training/data/movielens_converter.py) uses it; the converted dataset
carries the rendered actions and profile snapshots, and the card carries MOVIELENS_INPUT for clients.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ranking.input_contract import InputContract
from training.data.movielens import Movie, Rating

NUM_FAVOURITE_GENRES = 3
# Ratings at or above this count towards the favourite genres (the "like" threshold).
LIKED_RATING = 4.0


MOVIELENS_INPUT = InputContract(
    item="`Title (Year) | Genre|Genre|...` as in MovieLens movies.csv",
    action="`rated X.X`: the member's star rating, one decimal (0.5 to 5.0)",
    profile=(
        "fields in this order: `favourite genres` (the 3 most frequent among movies rated 4.0 or more), "
        "`average rating` (one decimal) and `ratings` (count), from the ratings known before the request"
    ),
    example={
        "member": {
            "id": "u42",
            "profile": {"favourite genres": "Crime, Drama, Thriller", "average rating": "3.9", "ratings": "2"},
            "history": [
                {"item": "Heat (1995) | Action|Crime|Thriller", "action": "rated 4.5", "timestamp": 1530000000},
                {"item": "Casino (1995) | Crime|Drama", "action": "rated 3.5", "timestamp": 1530000600},
            ],
        },
        "candidates": [
            {"id": "m1", "text": "Fargo (1996) | Comedy|Crime|Drama|Thriller"},
            {"id": "m2", "text": "Toy Story (1995) | Adventure|Animation|Children|Comedy|Fantasy"},
        ],
        "task": "like",
    },
)


def rating_action(rating: float) -> str:
    """The member's reaction as shown in a history line: `rated 4.5`."""
    return f"rated {rating:.1f}"


def profile_from_ratings(ratings: Sequence[Rating], movies: dict[int, Movie]) -> dict[str, Any]:
    """Favourite genres (most frequent among liked movies), average rating and count, in a fixed field order."""
    accumulator = ProfileAccumulator(movies)
    for r in ratings:
        accumulator.add(r)
    return accumulator.profile()


class ProfileAccumulator:
    """profile_from_ratings, updated one rating at a time (a snapshot per rating second stays linear)."""

    def __init__(self, movies: dict[int, Movie]) -> None:
        self.movies = movies
        self.liked: Counter[str] = Counter()
        self.all: Counter[str] = Counter()
        self.total = 0.0
        self.count = 0
        self.num_liked = 0

    def add(self, r: Rating) -> None:
        genres = [g for g in self.movies[r.movie_id].genres if g != "(no genres listed)"]
        self.all.update(genres)
        if r.rating >= LIKED_RATING:
            self.liked.update(genres)
            self.num_liked += 1
        self.total += r.rating
        self.count += 1

    def profile(self) -> dict[str, Any]:
        if not self.count:
            return {"favourite genres": "unknown", "average rating": "unknown", "ratings": "0"}
        counts = self.liked if self.num_liked else self.all
        # Ties broken by name so the profile is deterministic.
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:NUM_FAVOURITE_GENRES]
        return {
            "favourite genres": ", ".join(g for g, _ in top) or "unknown",
            "average rating": f"{self.total / self.count:.1f}",
            "ratings": str(self.count),
        }
