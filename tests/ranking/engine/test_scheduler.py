"""Scheduler shares under the token budget (plain Python)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ranking.engine.scheduler import QueueFullError, Scheduler


@dataclass(eq=False)
class FakeRequest:
    prefix_todo: int
    suffix_len: int


def test_budget_is_respected_and_oldest_first() -> None:
    sched: Scheduler[FakeRequest] = Scheduler(max_queue=10, max_batch_tokens=100, max_batch_requests=8)
    a, b, c = FakeRequest(50, 20), FakeRequest(20, 5), FakeRequest(40, 10)
    for r in (a, b, c):
        sched.submit(r)
    admitted = []
    shares = sched.schedule(admitted.append)
    assert [(s.request, s.num_prefix_tokens, s.has_suffixes) for s in shares] == [
        (a, 50, True),
        (b, 20, True),
        (c, 5, False),
    ]
    assert sum(s.num_tokens for s in shares) <= 100 and admitted == [a, b, c]


def test_oversized_first_request_still_runs() -> None:
    sched: Scheduler[FakeRequest] = Scheduler(max_queue=10, max_batch_tokens=10, max_batch_requests=8)
    big = FakeRequest(0, 500)
    sched.submit(big)
    sched.submit(FakeRequest(5, 5))
    shares = sched.schedule(lambda r: None)
    assert len(shares) == 1 and shares[0].has_suffixes and shares[0].num_tokens == 500


def test_prefix_chunks_then_suffixes() -> None:
    sched: Scheduler[FakeRequest] = Scheduler(max_queue=10, max_batch_tokens=10, max_batch_requests=8)
    req = FakeRequest(25, 8)
    sched.submit(req)
    chunks = []
    while True:
        (share,) = sched.schedule(lambda r: None)
        chunks.append((share.num_prefix_tokens, share.has_suffixes))
        req.prefix_todo -= share.num_prefix_tokens
        if share.has_suffixes:
            break
    assert chunks == [(10, False), (10, False), (5, False), (0, True)]


def test_queue_is_bounded_and_remove_if() -> None:
    sched: Scheduler[FakeRequest] = Scheduler(max_queue=2, max_batch_tokens=10, max_batch_requests=8)
    a, b = FakeRequest(1, 1), FakeRequest(1, 1)
    sched.submit(a)
    sched.submit(b)
    with pytest.raises(QueueFullError):
        sched.submit(FakeRequest(1, 1))
    assert sched.remove_if(lambda r: r is a) == [a] and list(sched.waiting) == [b]


def test_remove_if_judges_each_request_once() -> None:
    """A predicate that flips between calls (a deadline passing) must not lose a request."""
    sched: Scheduler[FakeRequest] = Scheduler(max_queue=4, max_batch_tokens=10, max_batch_requests=8)
    req = FakeRequest(1, 1)
    sched.submit(req)
    calls = iter([False, True, True, True])
    assert sched.remove_if(lambda r: next(calls)) == [] and list(sched.waiting) == [req]
