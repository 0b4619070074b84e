"""Prometheus metrics of one app instance (its own registry: no global state), plus the engine's own."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from ranking.scorer import MetricSample

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CANDIDATE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


class EngineCollector(Collector):
    """Turns the scorer's MetricSamples into Prometheus families at scrape time."""

    def __init__(self, samples: Callable[[], list[MetricSample]]) -> None:
        self._samples = samples

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        families: dict[str, CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily] = {}
        for s in self._samples():
            name = f"slmrank_engine_{s.name}"
            label_names = [k for k, _ in s.labels]
            label_values = [v for _, v in s.labels]
            family = families.get(name)
            if family is None:
                family = _family(s, name, label_names)
                families[name] = family
            if isinstance(family, HistogramMetricFamily):
                family.add_metric(label_values, [(_le(b), c) for b, c in s.buckets], s.value)
            else:
                family.add_metric(label_values, s.value)
        yield from families.values()


def _family(
    s: MetricSample, name: str, labels: list[str]
) -> CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily:
    if s.kind == "counter":
        return CounterMetricFamily(name.removesuffix("_total"), s.help, labels=labels)
    if s.kind == "histogram":
        return HistogramMetricFamily(name, s.help, labels=labels)
    return GaugeMetricFamily(name, s.help, labels=labels)


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


class ServiceMetrics:
    """The gateway's request metrics in a registry owned by one app."""

    def __init__(self, engine_samples: Callable[[], list[MetricSample]] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "slmrank_request_latency_seconds",
            "End-to-end /rank latency inside the service.",
            ["status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.candidates = Histogram(
            "slmrank_candidates_per_request",
            "Candidates in each accepted /rank request.",
            buckets=CANDIDATE_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "slmrank_errors",
            "Failed /rank requests by reason (error code).",
            ["reason"],
            registry=self.registry,
        )
        self.shed = Counter(
            "slmrank_shed",
            "Requests refused at admission before their body was read, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.connections_closed = Counter(
            "slmrank_connections_closed",
            "Connections the server closed or refused: header_timeout, evicted_idle (at the cap), refused.",
            ["reason"],
            registry=self.registry,
        )
        self.open_connections = Gauge("slmrank_open_connections", "Open HTTP connections.", registry=self.registry)
        self.in_flight = Gauge("slmrank_requests_in_flight", "/rank requests being served.", registry=self.registry)
        self.prompt_tokens = Counter("slmrank_prompt_tokens", "Prompt tokens scored.", registry=self.registry)
        self.cached_tokens = Counter(
            "slmrank_cached_tokens", "Prompt tokens served from a prefix cache.", registry=self.registry
        )
        if engine_samples is not None:
            self.registry.register(EngineCollector(engine_samples))
