"""The service's one settings object: environment variables with the SLMRANK_ prefix, validated at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ranking.backends.remote_config import RemoteBackendConfig
from service.models_config import ModelEntry, ModelsConfig
from service.remote_options import check_remote


class Settings(BaseSettings):
    """Every knob of the gateway. `slmrank serve --help` lists them; the README has the table."""

    model_config = SettingsConfigDict(
        env_prefix="SLMRANK_",
        frozen=True,
        extra="forbid",
        env_nested_delimiter="__",
        nested_model_default_partial_update=True,
    )

    host: str = Field("127.0.0.1", description="Interface to bind.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port.")
    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Serve /metrics only on this port (no API key there; a NetworkPolicy limits who reaches it); "
        "0: on the main port.",
    )
    model_dir: Path = Field(Path("models/default"), description="HF checkpoint directory (tokenizer + weights).")
    device: str = Field("auto", description="auto | cpu | cuda | cuda:N (embedded backend).")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto",
        description="Embedded compute dtype. auto: bfloat16 on CUDA, and on CPUs with native bf16 (AMX, AVX512-BF16,"
        " Arm BF16) for models with hidden size >= 256; else float32 (scores equal plain transformers within 1e-5).",
    )
    backend: Literal["embedded", "sglang", "vllm"] = Field("embedded", description="Where prompts are scored.")
    engine_urls: str = Field("", description="Comma-separated engine base URLs (sglang/vllm backends).")
    engine_dns: str = Field("", description="host:port of a headless Service resolved to all engine replicas.")
    engine_prefix_cache: bool = Field(True, description="Embedded engine: radix prefix KV cache on/off.")
    engine_kv_cache_bytes: int = Field(512 * 2**20, ge=0, description="Embedded engine: KV cache budget, bytes.")
    engine_max_batch_tokens: int = Field(8192, ge=16, description="Embedded engine: tokens per forward step.")
    engine_max_batch_requests: int = Field(32, ge=1, description="Embedded engine: requests per forward step.")
    engine_max_queue: int = Field(256, ge=1, description="Embedded engine: queued requests before 503.")
    engine_attention_backend: Literal["auto", "sdpa", "sdpa_cascade", "flashinfer"] = Field(
        "auto",
        description="Embedded engine attention: auto picks sdpa_cascade on CPU, flashinfer on CUDA if installed.",
    )
    engine_keep_freed_memory: bool = Field(
        True,
        description="Embedded engine on CPU: glibc keeps freed activation buffers for reuse (mmap off, no trim, one"
        " arena) instead of page-faulting them in again every pass; the process keeps its peak heap.",
    )
    models_file: Path | None = Field(
        None,
        description="JSON or TOML file listing several served models, A/B weights and a shadow (docs/ab-testing.md).",
    )
    models: str = Field("", description="The same as SLMRANK_MODELS_FILE, inline as JSON.")
    default_task: str = Field("", description="Task used when a request names none; empty: the card's first task.")
    max_candidates: int = Field(128, ge=1, le=4096, description="Most candidates in one request.")
    max_candidate_chars: int = Field(1000, ge=1, description="Longest candidate text, characters.")
    max_id_chars: int = Field(128, ge=1, description="Longest member or candidate id, characters.")
    max_profile_chars: int = Field(4000, ge=1, description="Longest profile (text or rendered fields).")
    max_history_items: int = Field(1000, ge=0, description="Most history items accepted (the prompt keeps fewer).")
    max_item_chars: int = Field(500, ge=1, description="Longest history item or action text, characters.")
    max_body_bytes: int = Field(1_000_000, ge=1024, description="Largest request body, bytes (413 above).")
    max_json_depth: int = Field(32, ge=4, le=512, description="Deepest JSON nesting accepted (400 above).")
    max_in_flight: int = Field(
        32,
        ge=1,
        description="Scoring requests admitted at once, counted before the body is read; more get 503 `overloaded`"
        " with `Retry-After` at once. Size it to capacity (req/s) × the latency you accept (s).",
    )
    max_in_flight_candidates: int = Field(
        2048,
        ge=1,
        description="Candidates of admitted requests scored at once; a request that would pass it gets 503"
        " overloaded before it is tokenised (one request alone always passes).",
    )
    body_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Time to receive a whole request body (408 `body_timeout` after, connection closed).",
    )
    discard_body_bytes: int = Field(
        16 * 2**20,
        ge=0,
        description="An over-limit body is read and dropped up to this size so the client sees the 413 "
        "(lingering close).",
    )
    header_timeout_s: float = Field(
        5.0, gt=0, description="Time for a new or kept-alive connection to send a request's headers; closed after."
    )
    keep_alive_s: int = Field(5, ge=1, description="Idle keep-alive connections are closed after this many seconds.")
    max_connections: int = Field(
        4096,
        ge=16,
        description="Open connections; at the cap the oldest idle one is closed, else the new one gets a bare 503."
        " Kept below the open-files limit (raised to its hard limit at start).",
    )
    shutdown_drain_s: float = Field(
        2.0,
        ge=0,
        description="After SIGTERM: `/readyz` is 503 and requests are still served (with `Connection: close`)"
        " this long.",
    )
    shutdown_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Then the longest wait for in-flight requests before they are cancelled and the process exits;"
        " a watchdog ends the process 3 s after that at the latest.",
    )
    request_timeout_s: float = Field(10.0, gt=0, description="Deadline for scoring one request (504 after).")
    api_keys: str = Field(
        "", description="Comma-separated API keys; when set, every route but /healthz and /readyz needs a Bearer key."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log level.")
    remote: RemoteBackendConfig = Field(
        default_factory=RemoteBackendConfig,
        description="SGLang/vLLM backend options (SLMRANK_REMOTE__<SECTION>__<FIELD>); one row each in the README.",
    )

    @field_validator("engine_dns")
    @classmethod
    def _dns_has_port(cls, value: str) -> str:
        if value and (":" not in value or not value.rsplit(":", 1)[1].isdigit()):
            raise ValueError("engine_dns must be host:port")
        return value

    @model_validator(mode="after")
    def _remote_backend_has_engines(self) -> Settings:
        if self.backend != "embedded" and not (self.engine_urls or self.engine_dns):
            raise ValueError(f"backend {self.backend!r} needs SLMRANK_ENGINE_URLS or SLMRANK_ENGINE_DNS")
        return self

    _remote_keys = field_validator("remote", mode="before")(check_remote)

    @model_validator(mode="after")
    def _one_model_source(self) -> Settings:
        if self.models_file is not None and self.models:
            raise ValueError("give SLMRANK_MODELS_FILE or SLMRANK_MODELS, not both")
        return self

    def models_config(self) -> ModelsConfig:
        """The served models: the models file, inline SLMRANK_MODELS, or the one model of SLMRANK_MODEL_DIR."""
        if self.models_file is not None:
            return ModelsConfig.load(self.models_file)
        if self.models:
            return ModelsConfig.model_validate_json(self.models)
        entry = ModelEntry(
            model_dir=self.model_dir,
            backend=self.backend,
            engine_urls=self.engine_url_list,
            engine_dns=self.engine_dns,
            remote=self.remote,
        )
        return ModelsConfig(models=[entry])

    @property
    def engine_url_list(self) -> list[str]:
        return [u.strip().rstrip("/") for u in self.engine_urls.split(",") if u.strip()]

    @property
    def api_key_set(self) -> frozenset[str]:
        return frozenset(k.strip() for k in self.api_keys.split(",") if k.strip())
