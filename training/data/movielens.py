"""The MovieLens ml-latest-small reader: ratings and movies as plain Python, item text as the service shows it.

Data: GroupLens Research, University of Minnesota (Harper & Konstan 2015, ACM TiiS 5(4) 19:1-19:19); research
use only, non-commercial, redistributed under the same terms (see data/movielens-latest-small/README.txt).
"""

from __future__ import annotations

import csv
import hashlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

# Resolved from the package, not the working directory: the shipped copy sits at the repository root.
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "movielens-latest-small"
DATA_FILES = ("ratings.csv", "movies.csv")


@dataclass(frozen=True)
class Movie:
    """One movie: its title with the year, as MovieLens writes it, and its genres."""

    id: int
    title: str
    genres: tuple[str, ...]

    @property
    def text(self) -> str:
        """The item text used in history lines and candidates: `Title (Year) | Genre|Genre`."""
        return item_text(self.title, self.genres)


@dataclass(frozen=True)
class Rating:
    """One rating (0.5-5 stars in half stars) by one user of one movie at one Unix second."""

    user_id: int
    movie_id: int
    rating: float
    timestamp: int


def item_text(title: str, genres: tuple[str, ...] | list[str]) -> str:
    """`Heat (1995) | Action|Crime|Thriller`; the one rendering shared by training, evaluation and clients."""
    shown = "|".join(g for g in genres if g and g != "(no genres listed)") or "unknown genre"
    return f"{title.strip()} | {shown}"


def chronological_key(rating: Rating) -> tuple[int, int]:
    """Sort key of a member's ratings: by time, then movieId (23% of ratings share a second with another)."""
    return (rating.timestamp, rating.movie_id)


class MovieLens:
    """ml-latest-small in memory: movies by id and each user's ratings in chronological order."""

    def __init__(self, movies: dict[int, Movie], ratings: list[Rating], checksums: dict[str, str]) -> None:
        self.movies = movies
        self.checksums = checksums
        by_user: dict[int, list[Rating]] = defaultdict(list)
        for r in ratings:
            if r.movie_id not in movies:
                raise ValueError(f"rating of unknown movie {r.movie_id} by user {r.user_id}")
            by_user[r.user_id].append(r)
        self.user_ratings = {u: sorted(rs, key=chronological_key) for u, rs in sorted(by_user.items())}

    @classmethod
    def load(cls, data_dir: str | Path = DEFAULT_DATA_DIR) -> MovieLens:
        """Read movies.csv and ratings.csv from `data_dir`; clear errors when a file is missing."""
        data_dir = Path(data_dir)
        for name in DATA_FILES:
            if not (data_dir / name).is_file():
                raise FileNotFoundError(f"{data_dir / name} not found: expected MovieLens ml-latest-small there")
        movies = read_movies(data_dir / "movies.csv")
        ratings = read_ratings(data_dir / "ratings.csv")
        checksums = {name: file_sha256(data_dir / name) for name in DATA_FILES}
        return cls(movies, ratings, checksums)

    @property
    def num_ratings(self) -> int:
        return sum(len(rs) for rs in self.user_ratings.values())

    def subset(self, user_ids: list[int]) -> MovieLens:
        """The same movies with only these users' ratings (for smoke runs)."""
        ratings = [r for u in user_ids for r in self.user_ratings[u]]
        return MovieLens(self.movies, ratings, self.checksums)


def read_movies(path: Path) -> dict[int, Movie]:
    """movies.csv -> {movieId: Movie}."""
    with path.open(newline="", encoding="utf-8") as f:
        return {
            int(row["movieId"]): Movie(int(row["movieId"]), row["title"], tuple(row["genres"].split("|")))
            for row in csv.DictReader(f)
        }


def read_ratings(path: Path) -> list[Rating]:
    """ratings.csv -> [Rating] in file order."""
    with path.open(newline="", encoding="utf-8") as f:
        return [
            Rating(int(row["userId"]), int(row["movieId"]), float(row["rating"]), int(row["timestamp"]))
            for row in csv.DictReader(f)
        ]


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, recorded in manifests so a model names the exact data it came from."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
