"""MovieLens read with the stdlib: each member's ratings in time order, and every movie's display text."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = Path("data/movielens-latest-small")


@dataclass(frozen=True)
class Rating:
    """One rating of one movie by one member."""

    movie_id: int
    rating: float
    timestamp: int


class MovieLens:
    """Ratings grouped by member (oldest first) and movie texts `Title (Year) | Genres`."""

    def __init__(self, movies: dict[int, str], ratings: dict[int, list[Rating]]) -> None:
        if not movies or not ratings:
            raise ValueError("MovieLens needs at least one movie and one member with ratings")
        self.movies = movies
        self.ratings = ratings
        self.member_ids = sorted(ratings)
        self.movie_ids = sorted(movies)

    @classmethod
    def load(cls, data_dir: str | Path = DEFAULT_DATA_DIR) -> MovieLens:
        """Read `movies.csv` and `ratings.csv` from a MovieLens directory (ml-latest-small layout)."""
        root = Path(data_dir)
        for name in ("movies.csv", "ratings.csv"):
            if not (root / name).is_file():
                raise FileNotFoundError(f"MovieLens file {root / name} not found (expected ml-latest-small layout)")
        movies = cls._read_movies(root / "movies.csv")
        ratings = cls._read_ratings(root / "ratings.csv", movies)
        return cls(movies, ratings)

    @staticmethod
    def _read_movies(path: Path) -> dict[int, str]:
        with path.open(newline="", encoding="utf-8") as f:
            return {int(row["movieId"]): f"{row['title']} | {row['genres']}" for row in csv.DictReader(f)}

    @staticmethod
    def _read_ratings(path: Path, movies: dict[int, str]) -> dict[int, list[Rating]]:
        by_member: dict[int, list[Rating]] = defaultdict(list)
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                movie_id = int(row["movieId"])
                if movie_id in movies:
                    by_member[int(row["userId"])].append(Rating(movie_id, float(row["rating"]), int(row["timestamp"])))
        # Stable sort by time, then movie id, so equal timestamps keep one deterministic order.
        return {m: sorted(rs, key=lambda r: (r.timestamp, r.movie_id)) for m, rs in by_member.items()}
