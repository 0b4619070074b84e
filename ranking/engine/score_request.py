"""One ScoreBatch on its way through the engine: its prompt split, the KV it holds, where its answer goes."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from ranking.engine.kv_segment import TensorKVSegment
from ranking.engine.radix_cache import RadixNode
from ranking.scorer import ScoreBatch


def split_prompt(batch: ScoreBatch) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """Prefix and suffixes such that every suffix is non-empty (labels are read at a suffix's last token).

    When some candidate suffix is empty, the prefix's last token moves into every suffix: same full prompts.
    """
    prefix, suffixes = batch.prefix_ids, batch.suffix_ids
    if all(suffixes) or not prefix:
        return prefix, suffixes
    return prefix[:-1], tuple((prefix[-1], *s) for s in suffixes)


@dataclass(eq=False)
class ScoreRequest:
    """A batch being scored: `done_len` prefix tokens have KV in `past`; `node` is the radix node it locks."""

    batch: ScoreBatch
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    prefix_ids: tuple[int, ...] = ()
    suffix_ids: tuple[tuple[int, ...], ...] = ()
    past: list[TensorKVSegment] = field(default_factory=list)
    done_len: int = 0
    hit_len: int = 0
    cached_len: int = 0  # depth of `node`: how much of the prefix the tree holds for this request
    node: RadixNode | None = None
    is_cancelled: bool = False

    def __post_init__(self) -> None:
        self.prefix_ids, self.suffix_ids = split_prompt(self.batch)

    @property
    def prefix_todo(self) -> int:
        return len(self.prefix_ids) - self.done_len

    @property
    def suffix_len(self) -> int:
        return sum(len(s) for s in self.suffix_ids)

    @property
    def computed_tokens(self) -> int:
        """Tokens this request runs through the model: its uncached prefix once, and every suffix."""
        return len(self.prefix_ids) - self.hit_len + self.suffix_len

    def is_expired(self, now: float | None = None) -> bool:
        deadline = self.batch.deadline
        return deadline is not None and (now if now is not None else time.monotonic()) > deadline

    def resolve(self, value: Any) -> None:
        """Hand a result (or an exception instance) to the waiting coroutine, from any thread."""
        self.loop.call_soon_threadsafe(settle, self.future, value)


def settle(future: asyncio.Future[Any], value: Any) -> None:
    """On the future's loop: its result, or its exception when `value` is one; nothing if it is already done."""
    if future.done():  # the caller already gave up (deadline) or was cancelled
        return
    if isinstance(value, BaseException):
        future.set_exception(value)
    else:
        future.set_result(value)
