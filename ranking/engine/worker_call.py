"""A callable for the engine's worker thread, and where its result goes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ranking.engine.score_request import settle


@dataclass(eq=False)
class WorkerCall:
    """`fn` to run on the worker thread; its result or exception goes to `future`, awaited on `loop`."""

    fn: Callable[[], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]

    def run(self) -> bool:
        """Run `fn` on this thread and hand over what it returned or raised; True if it returned."""
        try:
            value = self.fn()
        except Exception as exc:  # the awaiting coroutine gets it
            self.resolve(exc)
            return False
        self.resolve(value)
        return True

    def resolve(self, value: Any) -> None:
        """Hand a result (or an exception instance) to the waiting coroutine, from any thread."""
        self.loop.call_soon_threadsafe(settle, self.future, value)
