"""Engine fixtures: random prompts over the tiny model's vocabulary."""

from __future__ import annotations

import random

import pytest

# Absolute tolerances on label log-probs, by dtype (STYLE.md: one table).
TOLERANCE = {"float32": 1e-5, "bfloat16": 1e-2}


@pytest.fixture
def rng() -> random.Random:
    return random.Random(1234)


def random_ids(rng: random.Random, vocab_size: int, n: int) -> tuple[int, ...]:
    """`n` random token ids, avoiding the special tokens at the start of the tiny vocabulary."""
    return tuple(rng.randrange(3, vocab_size) for _ in range(n))
