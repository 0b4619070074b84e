"""One live status line on stderr while a run is going: sent, done, in flight, errors, running P50/P99."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TextIO

from loadtest.latency_histogram import LatencyHistogram
from loadtest.load_runner import RunState


class ProgressLine:
    """Redraws in place on a terminal; elsewhere (CI logs) prints a plain line every `log_every_s`."""

    def __init__(self, label: str, state: RunState, stream: TextIO | None = None, log_every_s: float = 10.0):
        self.label = label
        self.state = state
        self.stream = stream or sys.stderr
        self.is_tty = self.stream.isatty()
        self.log_every_s = log_every_s

    def text(self) -> str:
        """The current status."""
        s = self.state
        measured = [r.latency_s for r in s.records if r.is_ok]
        hist = LatencyHistogram(measured)
        p50, p99 = hist.percentile_ms(50), hist.percentile_ms(99)
        lat = f"p50 {p50:.0f} ms p99 {p99:.0f} ms" if p50 is not None and p99 is not None else "p50 - p99 -"
        elapsed = time.time() - s.started_at if s.started_at else 0.0
        return (
            f"[{self.label}] {elapsed:6.1f}s sent {s.num_sent}/{s.num_total} done {s.num_done} "
            f"in-flight {s.num_sent - s.num_done} errors {s.num_errors} {lat}"
        )

    async def run(self) -> None:
        """Redraw until cancelled."""
        period = 0.5 if self.is_tty else self.log_every_s
        try:
            while True:
                await asyncio.sleep(period)
                self.show()
        finally:
            self.show(final=True)

    def show(self, final: bool = False) -> None:
        """Print the line once (in place on a terminal)."""
        if self.is_tty:
            end = "\n" if final else ""
            self.stream.write("\r\x1b[2K" + self.text() + end)
        else:
            self.stream.write(self.text() + "\n")
        self.stream.flush()
