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
    num_admitted: int = 0  # scoring requests past the admission gate (body not necessarily read yet)
    is_draining: bool = False  # set on SIGTERM: /readyz answers 503, responses carry Connection: close

    def __post_init__(self) -> None:
        self.metrics = ServiceMetrics(self.engine_samples)

    def engine_samples(self) -> list[MetricSample]:
        return self.ranker.scorer.metrics() if self.ranker is not None else []

    @property
    def is_ready(self) -> bool:
        return not self.is_draining and self.ranker is not None and self.ranker.scorer.is_ready()
