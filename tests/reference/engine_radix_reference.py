"""Plain references for the radix cache: a token-list KV segment and brute-force longest-prefix matching."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ListSegment:
    """A fake KV segment that is the token ids it stands for, `bytes_per_token` bytes each."""

    ids: tuple[int, ...]
    bytes_per_token: int = 8

    @property
    def nbytes(self) -> int:
        return len(self.ids) * self.bytes_per_token

    def __len__(self) -> int:
        return len(self.ids)

    def split(self, at: int) -> tuple[ListSegment, ListSegment]:
        return ListSegment(self.ids[:at], self.bytes_per_token), ListSegment(self.ids[at:], self.bytes_per_token)


def common_prefix_len(a: Sequence[int], b: Sequence[int]) -> int:
    """Number of leading tokens `a` and `b` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def longest_prefix_len(cached: Iterable[Sequence[int]], query: Sequence[int]) -> int:
    """Brute force: the longest prefix of `query` that is a prefix of some cached sequence."""
    return max((common_prefix_len(seq, query) for seq in cached), default=0)
