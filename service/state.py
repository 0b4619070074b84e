"""What one running app holds: settings, metrics and (once loaded) the ranker."""

from __future__ import annotations

from dataclasses import dataclass, field

from ranking.ranker import Ranker
from ranking.scorer import MetricSample
from service.metrics import ServiceMetrics
from service.settings import Settings


@dataclass
class ServiceState:
    """Per-app state, created in create_app and filled by the lifespan."""

    settings: Settings
    ranker: Ranker | None = None
    metrics: ServiceMetrics = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = ServiceMetrics(self.engine_samples)

    def engine_samples(self) -> list[MetricSample]:
        return self.ranker.scorer.metrics() if self.ranker is not None else []

    @property
    def is_ready(self) -> bool:
        return self.ranker is not None and self.ranker.scorer.is_ready()
