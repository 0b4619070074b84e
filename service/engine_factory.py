"""Build the ranking objects (tokenizer, prompt builder, labels, scorer) the settings ask for."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ranking.card import ModelCard
from ranking.labels import resolve_all
from ranking.prompt_builder import PromptBuilder
from ranking.ranker import Ranker
from ranking.scorer import Scorer
from service.settings import Settings

if TYPE_CHECKING:  # the engine imports torch; the service imports it only when it builds one
    from ranking.engine.embedded_engine import EngineConfig

log = logging.getLogger(__name__)


def build_ranker(settings: Settings) -> Ranker:
    """Read the card, load what the backend needs, check every task's label tokens; raises on a bad checkpoint."""
    card = ModelCard.load(settings.model_dir)
    if settings.default_task and settings.default_task not in card.task_names:
        raise ValueError(f"SLMRANK_DEFAULT_TASK={settings.default_task!r} is not one of {card.task_names}")
    if settings.backend == "embedded":
        scorer, tokenizer, vocab_size = _embedded(settings)
    else:
        scorer, tokenizer, vocab_size = _remote(settings, card.model_name)
    labels = resolve_all(tokenizer, card.tasks, vocab_size)
    builder = PromptBuilder(tokenizer, card.prompt)
    log.info("model %s, backend %s, tasks %s", card.model_name, settings.backend, card.task_names)
    return Ranker(builder, scorer, labels, card, settings.default_task or None)


def _embedded(settings: Settings) -> tuple[Scorer, Any, int]:
    from ranking.engine.embedded_engine import EmbeddedEngine
    from ranking.model_loader import load_checkpoint

    loaded = load_checkpoint(settings.model_dir, settings.device, settings.dtype)
    return EmbeddedEngine(loaded, engine_config(settings)), loaded.tokenizer, loaded.vocab_size


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


def _remote(settings: Settings, model_name: str) -> tuple[Scorer, Any, int]:
    from ranking.backends import build_remote_scorer
    from ranking.model_loader import load_tokenizer

    tokenizer, vocab_size, _ = load_tokenizer(settings.model_dir)
    scorer = build_remote_scorer(
        settings.backend,
        endpoints=settings.engine_url_list,
        dns=settings.engine_dns or None,
        request_timeout_s=settings.request_timeout_s,
        model_name=model_name,
    )
    return scorer, tokenizer, vocab_size
