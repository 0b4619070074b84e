"""Fixtures for loadtest: the real MovieLens files, and fake servers speaking each target's protocol."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from loadtest.movielens import MovieLens

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "movielens-latest-small"


@pytest.fixture(scope="session")
def movielens() -> MovieLens:
    """ml-latest-small as loadtest reads it."""
    return MovieLens.load(DATA_DIR)


def fake_gateway(prompt_tokens_per_candidate: int = 100) -> Callable[[httpx.Request], httpx.Response]:
    """A /rank handler answering every candidate with a score, in the gateway's response shape."""

    def handle(request: httpx.Request) -> httpx.Response:
        body: dict[str, Any] = json.loads(request.content)
        k = len(body["candidates"])
        ranked = [
            {"id": c["id"], "score": 0.5, "rank": i + 1, "metadata": None} for i, c in enumerate(body["candidates"])
        ]
        return httpx.Response(
            200,
            json={
                "member_id": body["member"]["id"],
                "model": "fake",
                "task": body["task"],
                "ranked": ranked,
                "usage": {"prompt_tokens": k * prompt_tokens_per_candidate, "cached_tokens": 7, "candidates": k},
                "timing_ms": {"engine": 3.5, "total": 4.0},
            },
        )

    return handle
