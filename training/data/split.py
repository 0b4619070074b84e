"""Per-member chronological split of a dataset's interactions into train / validation / test periods."""

from __future__ import annotations

import math
from dataclasses import dataclass

from training.data.dataset import Dataset, Event

PERIODS = ("train", "val", "test")


@dataclass(frozen=True)
class SplitConfig:
    """The last `test_fraction` of each member's interactions is test; the last `val_fraction` of the rest is val."""

    test_fraction: float = 0.2
    val_fraction: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 < self.test_fraction < 1.0 or not 0.0 <= self.val_fraction < 1.0:
            raise ValueError("SplitConfig fractions must lie in (0, 1) for test and [0, 1) for val")


@dataclass(frozen=True)
class MemberPeriods:
    """One member's chronologically ordered interactions and where the val and test periods start."""

    member_id: str
    events: tuple[Event, ...]
    val_start: int
    test_start: int

    @property
    def train(self) -> tuple[Event, ...]:
        return self.events[: self.val_start]

    @property
    def val(self) -> tuple[Event, ...]:
        return self.events[self.val_start : self.test_start]

    @property
    def test(self) -> tuple[Event, ...]:
        return self.events[self.test_start :]

    def period(self, name: str) -> tuple[Event, ...]:
        """`train`, `val` or `test`."""
        if name not in PERIODS:
            raise ValueError(f"unknown period {name!r}; expected train, val or test")
        return getattr(self, name)

    def period_start(self, name: str) -> int:
        """Index of the period's first interaction: everything before it may be shown as history."""
        return {"train": 0, "val": self.val_start, "test": self.test_start}[name]


class ChronologicalSplit:
    """Splits every member's time-ordered interactions (file order breaks timestamp ties) into three periods."""

    def __init__(self, data: Dataset, config: SplitConfig | None = None) -> None:
        self.config = config or SplitConfig()
        self.data = data
        self.items = data.items
        self.members = {m: self._split(m, es) for m, es in data.member_events.items()}

    def _split(self, member_id: str, events: list[Event]) -> MemberPeriods:
        n = len(events)
        num_test = max(1, math.ceil(n * self.config.test_fraction))
        num_before = n - num_test
        num_val = math.ceil(num_before * self.config.val_fraction) if num_before > 1 else 0
        # At least one train interaction so every member has a history before val and test.
        test_start = max(num_before, 1) if n > 1 else n
        val_start = max(test_start - num_val, 1) if n > 1 else n
        return MemberPeriods(member_id, tuple(events), val_start, test_start)

    def period_events(self, name: str) -> list[Event]:
        """All members' interactions of one period."""
        return [e for m in self.members.values() for e in m.period(name)]
