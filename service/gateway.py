"""The models one app serves: each with its ranker and backend, the variant policy, and the shadow scorer."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from ranking.ranker import Ranker
from ranking.scorer import MetricSample
from ranking.variant_policy import VariantPolicy
from service.errors import RequestRejectedError
from service.models_config import ModelEntry, ModelsConfig
from service.schemas import ErrorDetail, ModelList, ServedModelInfo
from service.shadow_scorer import ShadowScorer
from service.variant_metrics import REQUESTED, VariantMetrics

log = logging.getLogger(__name__)


@dataclass
class ServedModel:
    """One served model: its name (a request's `model`), configuration and ranker."""

    name: str
    entry: ModelEntry
    ranker: Ranker


class Gateway:
    """Picks the model for each request (named, or by the variant policy) and owns the rankers' lifetimes."""

    def __init__(self, models: list[ServedModel], config: ModelsConfig, metrics: VariantMetrics) -> None:
        names = [m.name for m in models]
        if len(set(names)) != len(names):
            raise ValueError(f"served model names must be unique, got {names}; set `name` in the models file")
        self.models = {m.name: m for m in models}
        self.default = models[0]
        self.policy: VariantPolicy = config.policy(names)
        self.shadow: ShadowScorer | None = None
        if config.shadow is not None:
            if config.shadow.model not in self.models:
                raise ValueError(f"shadow.model {config.shadow.model!r} is not one of the served models {names}")
            shadow = self.models[config.shadow.model]
            self.shadow = ShadowScorer(shadow.ranker, shadow.name, config.shadow, metrics, config.salt)

    async def start(self) -> None:
        await asyncio.gather(*(m.ranker.scorer.start() for m in self.models.values()))

    async def close(self) -> None:
        if self.shadow is not None:
            await self.shadow.close()
        await asyncio.gather(*(m.ranker.scorer.close() for m in self.models.values()))

    def pick(self, requested: str | None, member_id: str) -> tuple[ServedModel, str]:
        """The model for a request and its variant label: the named model ('requested'), else the policy's.

        503 `engine_unavailable` when that model cannot score right now (its replicas down).
        """
        if requested is not None:
            if requested not in self.models:
                detail = ErrorDetail(field="model", message=f"unknown model; served: {', '.join(self.models)}")
                raise RequestRejectedError(422, "invalid_request", "unknown model", [detail])
            served, variant = self.models[requested], REQUESTED
        else:
            variant = self.policy.assign(member_id)
            served = self.models[variant]
        if not served.ranker.scorer.is_ready():  # the other models keep serving their members
            raise RequestRejectedError(503, "engine_unavailable", "no engine replica is healthy", retry_after_s=2)
        return served, variant

    def is_ready(self) -> bool:
        """Every served model can take traffic (a request may name any of them)."""
        return all(m.ranker.scorer.is_ready() for m in self.models.values())

    def engine_samples(self) -> list[MetricSample]:
        """Every model's engine metrics; with several models each sample carries a `model` label."""
        if len(self.models) == 1:
            return self.default.ranker.scorer.metrics()
        return [
            MetricSample(s.name, s.kind, s.value, s.help, (("model", m.name), *s.labels), s.buckets)
            for m in self.models.values()
            for s in m.ranker.scorer.metrics()
        ]

    def model_list(self) -> ModelList:
        shares = self.policy.shares()
        shadow = self.shadow.name if self.shadow is not None else None
        return ModelList(
            data=[
                ServedModelInfo(
                    id=m.name,
                    backend=m.entry.backend,
                    is_ready=m.ranker.scorer.is_ready(),
                    weight=shares[m.name],
                    is_shadow=m.name == shadow,
                    card=m.ranker.card.to_dict(),
                )
                for m in self.models.values()
            ]
        )
