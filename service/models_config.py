"""Which models one gateway serves, how traffic splits between them, and which one shadows the others.

Read from a JSON or TOML file (SLMRANK_MODELS_FILE) or inline JSON (SLMRANK_MODELS); without either the gateway
serves the one model of SLMRANK_MODEL_DIR / SLMRANK_BACKEND / SLMRANK_ENGINE_URLS. Example (TOML):

    salt = "ranker-v2-test"          # names the experiment; a new salt reshuffles members
    [[models]]
    name = "control"
    model_dir = "models/default"
    weight = 90
    [[models]]
    name = "pruned"
    model_dir = "runs/pruned-export"
    backend = "vllm"
    engine_urls = ["http://vllm-0:8000", "http://vllm-1:8000"]
    weight = 10
    [models.remote.vllm]             # this model's backend options (default: SLMRANK_REMOTE__*)
    is_split_prompts = true
    [shadow]
    model = "pruned"                 # also scores a share of the other models' requests, off the response path
    fraction = 1.0
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ranking.backends.remote_config import RemoteBackendConfig
from ranking.variant_policy import DEFAULT_SALT, VariantPolicy
from service.remote_options import check_remote


class ModelEntry(BaseModel):
    """One served model: its checkpoint (card + tokenizer), its backend, its A/B weight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(None, description="Id in /v1/models and a request's `model`; default: the card's name.")
    model_dir: Path = Field(..., description="Checkpoint directory (card, tokenizer, weights for embedded).")
    backend: Literal["embedded", "sglang", "vllm"] = "embedded"
    engine_urls: list[str] = Field(default_factory=list, description="Replica base URLs (sglang/vllm).")
    engine_dns: str = Field("", description="host:port of a headless Service resolving to the replicas.")
    weight: float = Field(1.0, ge=0, description="Share of requests without `model` (relative to the others).")
    remote: RemoteBackendConfig | None = Field(
        None, description="This model's SGLang/vLLM options (same keys as SLMRANK_REMOTE__*); unset: the gateway's."
    )

    _remote_keys = field_validator("remote", mode="before")(check_remote)

    @model_validator(mode="after")
    def _remote_has_engines(self) -> ModelEntry:
        if self.backend != "embedded" and not (self.engine_urls or self.engine_dns):
            raise ValueError(
                f"model {self.name or self.model_dir}: backend {self.backend!r} needs engine_urls or engine_dns"
            )
        return self

    @property
    def engine_url_list(self) -> list[str]:
        return [u.strip().rstrip("/") for u in self.engine_urls if u.strip()]


class ShadowConfig(BaseModel):
    """A model that re-scores a share of the other models' requests; its results go only to metrics."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(..., description="Name of a served model.")
    fraction: float = Field(1.0, ge=0, le=1, description="Share of requests shadowed (by member hash, sticky).")
    max_in_flight: int = Field(4, ge=1, description="Shadow requests at once; more are dropped, never queued.")
    timeout_s: float = Field(10.0, gt=0, description="Deadline of one shadow scoring.")


class ModelsConfig(BaseModel):
    """Every served model (the first is the default for a request when all weights are 0 but its own)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    models: list[ModelEntry] = Field(..., min_length=1)
    shadow: ShadowConfig | None = None
    salt: str = Field(DEFAULT_SALT, min_length=1, description="Experiment name mixed into the member hash.")

    @field_validator("models")
    @classmethod
    def _some_weight(cls, models: list[ModelEntry]) -> list[ModelEntry]:
        if not any(m.weight > 0 for m in models):
            raise ValueError("at least one model needs a weight > 0")
        return models

    @classmethod
    def load(cls, path: Path) -> ModelsConfig:
        """A .toml or .json file; ValueError names the file."""
        text = path.read_text()
        try:
            data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: cannot parse ({exc})") from None
        return cls.model_validate(data)

    def policy(self, names: list[str]) -> VariantPolicy:
        """The variant policy over the served models' names (in `models` order)."""
        return VariantPolicy(tuple((n, m.weight) for n, m in zip(names, self.models, strict=True)), self.salt)
