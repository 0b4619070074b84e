"""From a MovieLens member's ratings to the ranking `Member` (profile + history) and `Candidate`s.

This is the rendering a recommendation client must reproduce when it calls the service, so it lives here in
one place and the README example uses it: history lines `rated 4.5: Heat (1995) | Action|Crime|Thriller`, and a
profile summarised from the ratings the caller knows (in evaluation: the train period only).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ranking.input_contract import InputContract
from ranking.member import Candidate, Interaction, Member
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
    if not ratings:
        return {"favourite genres": "unknown", "average rating": "unknown", "ratings": "0"}
    liked = [r for r in ratings if r.rating >= LIKED_RATING] or list(ratings)
    counts: Counter[str] = Counter()
    for r in liked:
        counts.update(g for g in movies[r.movie_id].genres if g != "(no genres listed)")
    # Ties broken by name so the profile is deterministic.
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:NUM_FAVOURITE_GENRES]
    average = sum(r.rating for r in ratings) / len(ratings)
    return {
        "favourite genres": ", ".join(g for g, _ in top) or "unknown",
        "average rating": f"{average:.1f}",
        "ratings": str(len(ratings)),
    }


def interaction(rating: Rating, movies: dict[int, Movie]) -> Interaction:
    """One history entry for one rating."""
    return Interaction(movies[rating.movie_id].text, rating_action(rating.rating), rating.timestamp)


def candidate(movie: Movie, rating: Rating | None = None) -> Candidate:
    """A movie as a ranking candidate; the id is the movieId as a string."""
    metadata = {"movie_id": movie.id} if rating is None else {"movie_id": movie.id, "rating": rating.rating}
    return Candidate(str(movie.id), movie.text, metadata)


def build_member(
    user_id: int,
    history: Sequence[Rating],
    profile_ratings: Sequence[Rating],
    movies: dict[int, Movie],
    max_history: int | None = None,
) -> Member:
    """A Member whose history is `history` (oldest first; the last `max_history`) and profile `profile_ratings`.

    `max_history` only trims work: the prompt builder shows at most one line per prefix token, so passing the
    last max_prefix_len ratings renders exactly what the full history would.
    """
    shown = history if max_history is None else history[-max_history:]
    return Member(
        id=f"u{user_id}",
        profile=profile_from_ratings(profile_ratings, movies),
        history=tuple(interaction(r, movies) for r in shown),
    )
