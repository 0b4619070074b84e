from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings


def make_settings(model_dir: Path, **overrides) -> Settings:
    base = {
        "model_dir": model_dir,
        "device": "cpu",
        "dtype": "float32",
        "max_candidates": 16,
        "max_body_bytes": 20_000,
        "max_candidate_chars": 200,
        "max_history_items": 50,
    }
    return Settings(**{**base, **overrides})


@pytest.fixture(scope="module")
def client(tiny_model_dir: Path) -> Iterator[TestClient]:
    """The real app on the tiny model, lifespan run (model loaded and warmed)."""
    with TestClient(create_app(make_settings(tiny_model_dir))) as c:
        yield c


def rank_body(k: int = 3, **extra) -> dict:
    body = {
        "member": {
            "id": "u42",
            "profile": {"favourite genres": ["Crime", "Drama"], "average rating": 3.9},
            "history": [
                {
                    "item": "Heat (1995) | Action|Crime|Thriller",
                    "action": "rated 4.5",
                    "timestamp": 1530000000,
                },
                {
                    "item": "Toy Story (1995) | Animation|Children",
                    "action": "rated 2.0",
                    "timestamp": 1520000000,
                },
            ],
        },
        "candidates": [{"id": f"m{i}", "text": f"Movie {i} (1999) | Drama"} for i in range(k)],
    }
    body.update(extra)
    return body
