"""Per-member chronological split into train / validation / test periods."""

from __future__ import annotations

import math
from dataclasses import dataclass

from training.data.movielens import MovieLens, Rating


@dataclass(frozen=True)
class SplitConfig:
    """The last `test_fraction` of each member's ratings is test; the last `val_fraction` of the rest is val."""

    test_fraction: float = 0.2
    val_fraction: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 < self.test_fraction < 1.0 or not 0.0 <= self.val_fraction < 1.0:
            raise ValueError("SplitConfig fractions must lie in (0, 1) for test and [0, 1) for val")


@dataclass(frozen=True)
class MemberPeriods:
    """One member's chronologically ordered ratings and where the val and test periods start."""

    user_id: int
    ratings: tuple[Rating, ...]
    val_start: int
    test_start: int

    @property
    def train(self) -> tuple[Rating, ...]:
        return self.ratings[: self.val_start]

    @property
    def val(self) -> tuple[Rating, ...]:
        return self.ratings[self.val_start : self.test_start]

    @property
    def test(self) -> tuple[Rating, ...]:
        return self.ratings[self.test_start :]

    def period(self, name: str) -> tuple[Rating, ...]:
        """`train`, `val` or `test`."""
        if name not in ("train", "val", "test"):
            raise ValueError(f"unknown period {name!r}; expected train, val or test")
        return getattr(self, name)

    def period_start(self, name: str) -> int:
        """Index of the period's first rating: everything before it may be shown as history."""
        return {"train": 0, "val": self.val_start, "test": self.test_start}[name]


class ChronologicalSplit:
    """Splits every member's time-ordered ratings (by timestamp, then movieId) into three periods."""

    def __init__(self, data: MovieLens, config: SplitConfig | None = None) -> None:
        self.config = config or SplitConfig()
        self.movies = data.movies
        self.members = {u: self._split(u, rs) for u, rs in data.user_ratings.items()}

    def _split(self, user_id: int, ratings: list[Rating]) -> MemberPeriods:
        n = len(ratings)
        num_test = max(1, math.ceil(n * self.config.test_fraction))
        num_before = n - num_test
        num_val = math.ceil(num_before * self.config.val_fraction) if num_before > 1 else 0
        # At least one train rating so every member has a profile period.
        test_start = max(num_before, 1) if n > 1 else n
        val_start = max(test_start - num_val, 1) if n > 1 else n
        return MemberPeriods(user_id, tuple(ratings), val_start, test_start)

    def period_ratings(self, name: str) -> list[Rating]:
        """All members' ratings of one period."""
        return [r for m in self.members.values() for r in m.period(name)]
