"""One request: when it was due, sent and answered (seconds from the run start), and its outcome."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RequestRecord:
    """Latency counts from the scheduled time, so client lag and queueing are never hidden."""

    index: int
    is_warmup: bool
    is_repeat: bool
    num_candidates: int
    scheduled_s: float
    sent_s: float
    done_s: float
    is_ok: bool
    error: str | None = None
    status: int | None = None
    prompt_tokens: int | None = None
    cached_tokens: int | None = None
    engine_ms: float | None = None

    @property
    def latency_s(self) -> float:
        """Scheduled send to full response: the TTFT of a ranking request (all k scores at once)."""
        return self.done_s - self.scheduled_s

    @property
    def service_s(self) -> float:
        """Actual send to full response."""
        return self.done_s - self.sent_s

    @property
    def queue_s(self) -> float:
        """Time between the scheduled and the actual send (dispatch lag plus any concurrency cap)."""
        return self.sent_s - self.scheduled_s

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
