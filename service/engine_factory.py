"""Build the ranking objects (tokenizer, prompt builder, labels, scorer) of every model the settings ask for."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ranking.card import ModelCard
from ranking.labels import resolve_all
from ranking.prompt_builder import PromptBuilder
from ranking.ranker import Ranker
from ranking.scorer import Scorer
from service.gateway import Gateway, ServedModel
from service.models_config import ModelEntry
from service.settings import Settings
from service.variant_metrics import VariantMetrics

if TYPE_CHECKING:  # the engine imports torch; the service imports it only when it builds one
    from ranking.engine.embedded_engine import EngineConfig

log = logging.getLogger(__name__)


def build_ranker(settings: Settings, entry: ModelEntry | None = None) -> Ranker:
    """Read the card, load what the backend needs, check every task's label tokens; raises on a bad checkpoint.

    `entry` is one model of the models file; omitted, the one model of SLMRANK_MODEL_DIR / SLMRANK_BACKEND.
    """
    entry = entry or settings.models_config().models[0]
    card = ModelCard.load(entry.model_dir)
    default_task = settings.default_task if settings.default_task in card.task_names else None
    if settings.default_task and default_task is None and settings.models_file is None and not settings.models:
        raise ValueError(f"SLMRANK_DEFAULT_TASK={settings.default_task!r} is not one of {card.task_names}")
    if entry.backend == "embedded":
        scorer, tokenizer, vocab_size = _embedded(settings, entry)
    else:
        scorer, tokenizer, vocab_size = _remote(settings, entry, card.model_name)
    labels = resolve_all(tokenizer, card.tasks, vocab_size)
    builder = PromptBuilder(tokenizer, card.prompt)
    log.info("model %s, backend %s, tasks %s", card.model_name, entry.backend, card.task_names)
    return Ranker(builder, scorer, labels, card, default_task)


def _embedded(settings: Settings, entry: ModelEntry) -> tuple[Scorer, Any, int]:
    from ranking.engine.embedded_engine import EmbeddedEngine
    from ranking.model_loader import load_checkpoint

    loaded = load_checkpoint(entry.model_dir, settings.device, settings.dtype)
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
        keep_freed_memory=settings.engine_keep_freed_memory,
    )


def _remote(settings: Settings, entry: ModelEntry, model_name: str) -> tuple[Scorer, Any, int]:
    from ranking.backends import build_remote_scorer
    from ranking.model_loader import load_tokenizer

    tokenizer, vocab_size, _ = load_tokenizer(entry.model_dir)
    scorer = build_remote_scorer(
        entry.backend,
        endpoints=entry.engine_url_list,
        dns=entry.engine_dns or None,
        model_name=model_name,
        config=entry.remote or settings.remote,
    )
    return scorer, tokenizer, vocab_size


def build_gateway(settings: Settings, metrics: VariantMetrics) -> Gateway:
    """Every served model's ranker (loaded one after the other), the variant policy and the shadow scorer."""
    config = settings.models_config()
    served = []
    for entry in config.models:
        ranker = build_ranker(settings, entry)
        served.append(ServedModel(entry.name or ranker.model_name, entry, ranker))
    if settings.default_task and not any(settings.default_task in m.ranker.tasks for m in served):
        raise ValueError(f"SLMRANK_DEFAULT_TASK={settings.default_task!r} is a task of none of the served models")
    return Gateway(served, config, metrics)


def check_models(settings: Settings) -> list[str]:
    """Before loading weights: every served model's card parses and its labels are single tokens of its tokenizer.

    Returns the problems as one line each (CardError, LabelTokenError, a missing tokenizer...), empty when fine.
    """
    from ranking.model_loader import load_tokenizer

    try:
        config = settings.models_config()
    except (ValueError, OSError) as exc:
        return [f"models configuration: {exc}"]
    problems = []
    for entry in config.models:
        try:
            if entry.backend == "embedded":
                _check_architecture(entry.model_dir)
            card = ModelCard.load(entry.model_dir)
            tokenizer, vocab_size, _ = load_tokenizer(entry.model_dir)
            resolve_all(tokenizer, card.tasks, vocab_size)
        except (ValueError, OSError) as exc:  # CardError, LabelTokenError and CheckpointError are ValueErrors
            problems.append(f"{entry.model_dir}: {exc}")
    return problems


def _check_architecture(model_dir: Any) -> None:
    """The embedded engine runs the architectures of ranking/decoder_layout.py; others go to a remote engine."""
    import json
    from pathlib import Path

    from ranking.decoder_layout import UnsupportedArchitectureError, decoder_layout

    path = Path(model_dir) / "config.json"
    if not path.exists():
        return  # the loader reports a missing config.json in its own words
    try:
        decoder_layout(json.loads(path.read_text()))
    except UnsupportedArchitectureError as exc:
        raise UnsupportedArchitectureError(f"{exc} for the embedded engine; serve it with --backend vllm") from None
