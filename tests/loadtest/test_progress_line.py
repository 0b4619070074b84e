"""The progress line shows counts and running percentiles; off a terminal it prints whole lines."""

from __future__ import annotations

import io

from loadtest.load_runner import RunState
from loadtest.progress_line import ProgressLine
from loadtest.request_record import RequestRecord


def test_text_and_plain_output() -> None:
    state = RunState(num_total=10, num_sent=4)
    state.records += [RequestRecord(i, False, False, 1, 0.0, 0.0, 0.1 * (i + 1), i != 2) for i in range(3)]
    stream = io.StringIO()
    line = ProgressLine("k=1 cold", state, stream=stream)
    text = line.text()
    assert "[k=1 cold]" in text and "sent 4/10" in text and "done 3" in text
    assert "in-flight 1" in text and "errors 1" in text and "p50 100 ms" in text
    line.show()
    assert stream.getvalue().endswith("\n") and "\r" not in stream.getvalue()


def test_no_samples_yet() -> None:
    assert "p50 -" in ProgressLine("x", RunState(num_total=3), stream=io.StringIO()).text()
