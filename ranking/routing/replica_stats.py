"""Per-replica counters and a latency histogram, exported as MetricSamples with a `replica` label."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from ranking.scorer import MetricSample

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, float("inf"))


@dataclass
class ReplicaStats:
    """Plain numbers, updated by the router on the event loop (no locks needed)."""

    requests_total: int = 0
    errors_total: int = 0
    cached_tokens_total: int = 0
    prompt_tokens_total: int = 0
    latency_sum_s: float = 0.0
    latency_counts: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS_S))

    def record(self, latency_s: float, prompt_tokens: int = 0, cached_tokens: int = 0, is_error: bool = False):
        """Count one attempt on this replica, successful or not."""
        self.requests_total += 1
        self.errors_total += int(is_error)
        self.prompt_tokens_total += prompt_tokens
        self.cached_tokens_total += cached_tokens
        self.latency_sum_s += latency_s
        self.latency_counts[bisect.bisect_left(LATENCY_BUCKETS_S, latency_s)] += 1

    @property
    def cached_token_ratio(self) -> float:
        """Share of prompt tokens the engine served from its prefix cache."""
        return self.cached_tokens_total / self.prompt_tokens_total if self.prompt_tokens_total else 0.0

    def samples(self, replica: str) -> list[MetricSample]:
        """The counters and the histogram, labelled with the replica's URL."""
        labels = (("replica", replica),)
        cumulative, running = [], 0
        for bound, count in zip(LATENCY_BUCKETS_S, self.latency_counts, strict=True):
            running += count
            cumulative.append((bound, float(running)))
        return [
            MetricSample(
                "replica_requests_total",
                "counter",
                self.requests_total,
                "Attempts sent to the replica",
                labels,
            ),
            MetricSample(
                "replica_errors_total", "counter", self.errors_total, "Failed attempts on the replica", labels
            ),
            MetricSample(
                "replica_cached_tokens_total",
                "counter",
                self.cached_tokens_total,
                "Prompt tokens hit in cache",
                labels,
            ),
            MetricSample(
                "replica_prompt_tokens_total",
                "counter",
                self.prompt_tokens_total,
                "Prompt tokens sent",
                labels,
            ),
            MetricSample(
                "replica_latency_seconds",
                "histogram",
                self.latency_sum_s,
                "Latency of attempts on the replica",
                labels,
                tuple(cumulative),
            ),
        ]
