"""The embedded engine's counters and histograms as plain numbers (ranking needs no metrics library)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from ranking.scorer import MetricSample


@dataclass
class Histogram:
    """Cumulative-bucket histogram with fixed upper bounds."""

    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def sample(self, name: str, help_text: str) -> MetricSample:
        cumulative, buckets = 0, []
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            cumulative += count
            buckets.append((bound, float(cumulative)))
        return MetricSample(name, "histogram", self.total, help_text, buckets=tuple(buckets))


@dataclass
class EngineMetrics:
    """Everything the engine counts; updated on the worker thread, read at scrape time."""

    forward_passes: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    computed_tokens: int = 0
    prefix_hit_tokens: int = 0
    prefix_queried_tokens: int = 0
    timeouts: int = 0
    rejected: int = 0
    dropped: int = 0
    batch_size: Histogram = field(default_factory=lambda: Histogram((1, 2, 4, 8, 16, 32, 64, 128, 256, 512)))
    batch_tokens: Histogram = field(default_factory=lambda: Histogram((64, 256, 1024, 2048, 4096, 8192, 16384, 32768)))
    batch_requests: Histogram = field(default_factory=lambda: Histogram((1, 2, 4, 8, 16, 32, 64)))

    def counters(self) -> list[MetricSample]:
        """The counters and the hit ratio."""
        ratio = self.prefix_hit_tokens / self.prefix_queried_tokens if self.prefix_queried_tokens else 0.0
        return [
            MetricSample("forward_passes_total", "counter", self.forward_passes, "Forward passes run."),
            MetricSample(
                "dropped_requests_total", "counter", self.dropped, "Queued requests dropped: deadline unreachable."
            ),
            MetricSample("requests_total", "counter", self.requests, "Score requests completed."),
            MetricSample("prompt_tokens_total", "counter", self.prompt_tokens, "Tokens of all full prompts."),
            MetricSample("cached_tokens_total", "counter", self.cached_tokens, "Prompt tokens not computed."),
            MetricSample("computed_tokens_total", "counter", self.computed_tokens, "Tokens run through the model."),
            MetricSample(
                "prefix_cache_hit_tokens_total",
                "counter",
                self.prefix_hit_tokens,
                "Prefix tokens found cached.",
            ),
            MetricSample(
                "prefix_cache_queried_tokens_total",
                "counter",
                self.prefix_queried_tokens,
                "Prefix tokens looked up.",
            ),
            MetricSample("prefix_cache_hit_ratio", "gauge", ratio, "Cached share of looked-up prefix tokens."),
            MetricSample("timeouts_total", "counter", self.timeouts, "Requests past their deadline."),
            MetricSample("rejected_total", "counter", self.rejected, "Requests refused: queue full."),
        ]

    def histograms(self) -> list[MetricSample]:
        return [
            self.batch_size.sample("batch_size", "Candidate prompts scored per forward pass."),
            self.batch_tokens.sample("batch_tokens", "Tokens computed per forward pass."),
            self.batch_requests.sample("batch_requests", "Requests sharing a forward pass."),
        ]
