"""Which requests share the next forward pass, under a token budget (plain Python, no torch).

Requests run first-come first-served. Each step a request gets one share: a chunk of its uncomputed prefix,
then (when the prefix is done and the budget allows) all of its candidate suffixes at once. The oldest
request always gets a share, even one larger than the budget, so nothing starves.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class SchedulerRequest(Protocol):
    """What the scheduler reads of a request."""

    @property
    def prefix_todo(self) -> int: ...

    @property
    def suffix_len(self) -> int: ...


R = TypeVar("R", bound=SchedulerRequest)


class QueueFullError(Exception):
    """The waiting queue holds max_queue requests already."""


@dataclass(frozen=True)
class StepShare(Generic[R]):
    """A request's part of one forward pass."""

    request: R
    num_prefix_tokens: int
    has_suffixes: bool

    @property
    def num_tokens(self) -> int:
        return self.num_prefix_tokens + (self.request.suffix_len if self.has_suffixes else 0)


class Scheduler(Generic[R]):
    """A bounded waiting queue and the running set, cut into steps of at most `max_batch_tokens` tokens."""

    def __init__(self, max_queue: int, max_batch_tokens: int, max_batch_requests: int) -> None:
        self.max_queue = max_queue
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_requests = max_batch_requests
        self.waiting: deque[R] = deque()
        self.running: list[R] = []

    def submit(self, request: R) -> None:
        """Queue a request, or raise QueueFullError."""
        if len(self.waiting) >= self.max_queue:
            raise QueueFullError(f"queue holds {self.max_queue} requests")
        self.waiting.append(request)

    def schedule(self, admit: Callable[[R], None]) -> list[StepShare[R]]:
        """The next step's shares: running requests first, then waiting ones (`admit` runs as each starts)."""
        shares: list[StepShare[R]] = []
        budget = self.max_batch_tokens
        for request in list(self.running):
            budget = self._add_share(request, shares, budget)
        while self.waiting and budget > 0 and len(shares) < self.max_batch_requests:
            request = self.waiting.popleft()
            admit(request)
            self.running.append(request)
            budget = self._add_share(request, shares, budget)
        return shares

    def finish(self, request: R) -> None:
        """Forget a request that is done (or failed)."""
        if request in self.running:
            self.running.remove(request)

    def remove_if(self, predicate: Callable[[R], bool]) -> list[R]:
        """Take every waiting or running request for which `predicate` holds (expired, cancelled...)."""
        taken = [r for r in (*self.waiting, *self.running) if predicate(r)]
        # Judge each request once: a deadline may pass between two calls of the predicate.
        gone = {id(r) for r in taken}
        self.waiting = deque(r for r in self.waiting if id(r) not in gone)
        self.running = [r for r in self.running if id(r) not in gone]
        return taken

    def _add_share(self, request: R, shares: list[StepShare[R]], budget: int) -> int:
        """Give `request` what fits in `budget` (the first share of a step always gets something)."""
        if len(shares) >= self.max_batch_requests:
            return budget
        first = not shares
        prefix = min(request.prefix_todo, max(budget, 1) if first else max(budget, 0))
        rest = budget - prefix
        has_suffixes = prefix == request.prefix_todo and (request.suffix_len <= rest or (first and prefix == 0))
        share = StepShare(request, prefix, has_suffixes)
        if share.num_tokens == 0:
            return budget
        shares.append(share)
        return budget - share.num_tokens
