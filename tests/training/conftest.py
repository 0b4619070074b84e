"""A small synthetic MovieLens (in memory), converted to the dataset format, its split and a tokenizer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.data.dataset import Dataset
from training.data.movielens import Movie, MovieLens, Rating
from training.data.movielens_converter import movielens_dataset
from training.data.split import ChronologicalSplit

GENRES = ("Action", "Comedy", "Drama", "Thriller", "Romance", "Sci-Fi")


def synthetic_movielens(num_users: int = 8, num_movies: int = 40, seed: int = 0) -> MovieLens:
    """Users with 20-40 ratings each; a few share a timestamp so the movieId tie-break matters."""
    rng = np.random.default_rng(seed)
    movies = {
        m: Movie(m, f"Movie number {m} ({1980 + m % 30})", tuple(rng.choice(GENRES, size=2, replace=False)))
        for m in range(1, num_movies + 1)
    }
    ratings = []
    for u in range(1, num_users + 1):
        count = int(rng.integers(20, 41))
        ids = rng.choice(np.arange(1, num_movies + 1), size=count, replace=False)
        t = 1_000_000 + int(rng.integers(0, 10_000))
        for i, m in enumerate(ids):
            t += 0 if i % 5 == 1 else int(rng.integers(1, 1000))
            ratings.append(Rating(u, int(m), float(rng.integers(1, 11)) / 2, t))
    rng.shuffle(ratings)  # file order is not time order
    return MovieLens(movies, ratings, {"ratings.csv": "synthetic", "movies.csv": "synthetic"})


@pytest.fixture(scope="session")
def movielens() -> MovieLens:
    return synthetic_movielens()


@pytest.fixture(scope="session")
def dataset(movielens: MovieLens) -> Dataset:
    return movielens_dataset(movielens)


@pytest.fixture(scope="session")
def split(dataset: Dataset) -> ChronologicalSplit:
    return ChronologicalSplit(dataset)


@pytest.fixture(scope="session")
def tokenizer(split: ChronologicalSplit, tmp_path_factory: pytest.TempPathFactory):
    from training.tokenizer_trainer import TokenizerConfig, train_tokenizer

    out: Path = tmp_path_factory.mktemp("tokenizer")
    return train_tokenizer(split, TokenizerConfig(vocab_size=400), out)
