"""What one running app holds: settings, metrics and (once loaded) the gateway with its models."""

from __future__ import annotations

from dataclasses import dataclass, field

from ranking.ranker import Ranker
from ranking.scorer import MetricSample
from service.gateway import Gateway
from service.metrics import ServiceMetrics
from service.schemas import ModelList
from service.settings import Settings
from service.variant_metrics import VariantMetrics


@dataclass
class ServiceState:
    """Per-app state, created in create_app and filled by the lifespan."""

    settings: Settings
    gateway: Gateway | None = None
    metrics: ServiceMetrics = field(init=False)
    variant_metrics: VariantMetrics = field(init=False)
    num_admitted: int = 0  # scoring requests past the admission gate (body not necessarily read yet)
    num_candidates: int = 0  # candidates of parsed requests being scored (service/admission_gate.py)
    is_draining: bool = False  # set on SIGTERM: /readyz answers 503, responses carry Connection: close

    def __post_init__(self) -> None:
        self.metrics = ServiceMetrics(self.engine_samples)
        self.variant_metrics = VariantMetrics(self.metrics.registry)

    @property
    def ranker(self) -> Ranker | None:
        """The first served model's ranker (the only one when a single model is served)."""
        return self.gateway.default.ranker if self.gateway is not None else None

    def engine_samples(self) -> list[MetricSample]:
        return self.gateway.engine_samples() if self.gateway is not None else []

    def model_list(self) -> ModelList:
        return self.gateway.model_list() if self.gateway is not None else ModelList(data=[])

    @property
    def is_ready(self) -> bool:
        return not self.is_draining and self.gateway is not None and self.gateway.is_ready()
