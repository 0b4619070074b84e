"""Build the ranking objects (tokenizer, prompt builder, labels, scorer) the settings ask for."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ranking.labels import resolve_all
from ranking.prompt_builder import PromptBuilder, PromptConfig
from ranking.ranker import Ranker
from ranking.scorer import Scorer
from ranking.tasks import TASKS
from service.settings import Settings

if TYPE_CHECKING:  # the engine imports torch; the service imports it only when it builds one
    from ranking.engine.embedded_engine import EngineConfig

log = logging.getLogger(__name__)


def build_ranker(settings: Settings) -> Ranker:
    """Load what the backend needs and check every task's label tokens; raises on a bad checkpoint."""
    if settings.backend == "embedded":
        scorer, tokenizer, vocab_size, name = _embedded(settings)
    else:
        scorer, tokenizer, vocab_size, name = _remote(settings)
    labels = resolve_all(tokenizer, TASKS.values(), vocab_size)
    if settings.default_task not in labels:
        raise ValueError(f"SLMRANK_DEFAULT_TASK={settings.default_task!r} is not one of {sorted(labels)}")
    builder = PromptBuilder(tokenizer, PromptConfig.from_checkpoint(settings.model_dir))
    log.info("model %s, backend %s, tasks %s", name, settings.backend, sorted(labels))
    return Ranker(builder, scorer, labels, name)


def _embedded(settings: Settings) -> tuple[Scorer, Any, int, str]:
    from ranking.engine.embedded_engine import EmbeddedEngine
    from ranking.model_loader import load_checkpoint

    loaded = load_checkpoint(settings.model_dir, settings.device, settings.dtype)
    return EmbeddedEngine(loaded, engine_config(settings)), loaded.tokenizer, loaded.vocab_size, loaded.name


def engine_config(settings: Settings) -> EngineConfig:
    """SLMRANK_ENGINE_* as the embedded engine's config."""
    from ranking.engine.embedded_engine import EngineConfig

    return EngineConfig(
        enable_prefix_cache=settings.engine_prefix_cache,
        kv_cache_bytes=settings.engine_kv_cache_bytes,
        max_batch_tokens=settings.engine_max_batch_tokens,
        max_batch_requests=settings.engine_max_batch_requests,
        max_queue=settings.engine_max_queue,
        attention_backend=settings.engine_attention_backend,
    )


def _remote(settings: Settings) -> tuple[Scorer, Any, int, str]:
    from ranking.backends import build_remote_scorer
    from ranking.model_loader import load_tokenizer

    tokenizer, vocab_size, name = load_tokenizer(settings.model_dir)
    scorer = build_remote_scorer(
        settings.backend,
        endpoints=settings.engine_url_list,
        dns=settings.engine_dns or None,
        request_timeout_s=settings.request_timeout_s,
        model_name=name,
    )
    return scorer, tokenizer, vocab_size, name
