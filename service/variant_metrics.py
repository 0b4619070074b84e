"""Per-model, per-variant request metrics and shadow-scoring metrics: what an A/B analysis reads.

`variant` is the policy's assignment (the model's name) for requests without `model`, `requested` for requests
that named their model. Compare variants on requests, latency, errors, candidates and the cached-token ratio
(cached_tokens / prompt_tokens); docs/ab-testing.md has the queries.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from service.metrics import LATENCY_BUCKETS

REQUESTED = "requested"
CORRELATION_BUCKETS = (-0.5, 0.0, 0.25, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)


class VariantMetrics:
    """Families labelled by model and variant, registered in the app's own registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["model", "variant"]
        self.requests = Counter(
            "slmrank_model_requests", "Ranking requests by model, variant and outcome (ok or an error code).",
            [*labels, "status"], registry=registry,
        )  # fmt: skip
        self.latency = Histogram(
            "slmrank_model_latency_seconds", "End-to-end ranking latency by model and variant.",
            labels, buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.candidates = Counter("slmrank_model_candidates", "Candidates scored.", labels, registry=registry)
        self.prompt_tokens = Counter("slmrank_model_prompt_tokens", "Prompt tokens scored.", labels, registry=registry)
        self.cached_tokens = Counter(
            "slmrank_model_cached_tokens", "Prompt tokens served from a prefix cache.", labels, registry=registry
        )
        self.shadow_requests = Counter(
            "slmrank_shadow_requests", "Shadow scorings by shadow model, primary model and outcome "
            "(ok, error, dropped when max_in_flight are running, skipped when the shadow lacks the task).",
            ["model", "primary", "status"], registry=registry,
        )  # fmt: skip
        self.shadow_latency = Histogram(
            "slmrank_shadow_latency_seconds", "Shadow scoring latency (off the response path).",
            ["model", "primary"], buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.shadow_agreement = Histogram(
            "slmrank_shadow_rank_correlation", "Spearman correlation of the shadow's order with the response's.",
            ["model", "primary"], buckets=CORRELATION_BUCKETS, registry=registry,
        )  # fmt: skip
        self.shadow_top1 = Counter(
            "slmrank_shadow_top1_agreements", "Shadow scorings whose best candidate is the response's best.",
            ["model", "primary"], registry=registry,
        )  # fmt: skip
