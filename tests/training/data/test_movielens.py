"""The MovieLens reader on the real files: counts, order and item text."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.data.movielens import DEFAULT_DATA_DIR, MovieLens, chronological_key, item_text

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def real() -> MovieLens:
    return MovieLens.load(DEFAULT_DATA_DIR)


def test_counts_match_the_readme(real: MovieLens) -> None:
    assert real.num_ratings == 100_836
    assert len(real.user_ratings) == 610
    assert len(real.movies) == 9_742
    assert set(real.checksums) == {"ratings.csv", "movies.csv"}


def test_each_member_is_in_chronological_order(real: MovieLens) -> None:
    for ratings in real.user_ratings.values():
        keys = [chronological_key(r) for r in ratings]
        assert keys == sorted(keys)


def test_item_text() -> None:
    assert item_text("Heat (1995)", ("Action", "Crime", "Thriller")) == "Heat (1995) | Action|Crime|Thriller"
    assert item_text("X (2000)", ("(no genres listed)",)) == "X (2000) | unknown genre"


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="ml-latest-small"):
        MovieLens.load(tmp_path)
