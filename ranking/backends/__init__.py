"""Remote engine backends (SGLang, vLLM over HTTP) and the builder the service calls.

`build_remote_scorer` returns a RoutedScorer over one or more replicas: member-affinity routing, health
checks, a circuit breaker per replica and one retry on the next replica within the batch deadline.
"""

from __future__ import annotations

from typing import Any

from ranking.backends.engine_client import EngineClientConfig
from ranking.backends.remote_scorer import PrefixWarmup, RemoteScorer
from ranking.backends.sglang_scorer import SGLangApi, SGLangConfig, SGLangScorer
from ranking.backends.vllm_scorer import VLLMApi, VLLMConfig, VLLMScorer
from ranking.routing.circuit_breaker import CircuitBreakerConfig
from ranking.routing.endpoint_resolver import EndpointResolver
from ranking.routing.health_checker import HealthChecker, HealthCheckerConfig
from ranking.routing.rendezvous_hash import RendezvousHash, RendezvousHashConfig
from ranking.routing.replica_set import ReplicaSet
from ranking.routing.routed_scorer import RoutedScorer, RoutedScorerConfig
from ranking.scorer import Scorer

BACKENDS = ("sglang", "vllm")

__all__ = ["BACKENDS", "build_remote_scorer", "make_replica_factory"]


def make_replica_factory(backend: str, model_name: str, **options: Any):
    """A function URL -> replica scorer for `backend`, configured from `options` (see build_remote_scorer)."""
    client_config = EngineClientConfig(max_connections=int(options.get("max_connections", 64)))
    if backend == "sglang":
        sglang = SGLangConfig(
            api=SGLangApi(options.get("api", "generate")),
            is_prefill_only=bool(options.get("prefill_only", True)),
            warmup=PrefixWarmup(options.get("warmup", "new")),
            model_name=model_name,
        )
        return lambda url: SGLangScorer(url, sglang, client_config)
    if backend == "vllm":
        vllm = VLLMConfig(
            api=VLLMApi(options.get("api", "completions")),
            warmup=PrefixWarmup(options.get("warmup", "never")),
            model_name=options.get("served_model_name") or None,  # omitted: vLLM uses its one served model
            is_split_prompts=bool(options.get("split_prompts", False)),
        )
        return lambda url: VLLMScorer(url, vllm, client_config)
    raise ValueError(f"engine backend must be one of {BACKENDS}, got {backend!r}")


def build_remote_scorer(
    backend: str,
    endpoints: list[str],
    dns: str | None,
    request_timeout_s: float,
    model_name: str,
    **options: Any,
) -> Scorer:
    """A routed Scorer over the engine replicas at `endpoints` (base URLs) or behind `dns` ("host:port").

    Options: api (sglang: generate|score; vllm: completions|generative_scoring), warmup (never|new|always),
    prefill_only (sglang), served_model_name and split_prompts (vllm), max_attempts, load_factor,
    health_interval_s, health_timeout_s, failure_threshold, breaker_failures, breaker_open_s.
    """
    if not endpoints and not dns:
        raise ValueError("give engine endpoints (SLMRANK_ENGINE_URLS) or a DNS name (SLMRANK_ENGINE_DNS)")
    factory = make_replica_factory(backend, model_name, **options)
    replica_set = ReplicaSet(
        factory,
        RendezvousHash(RendezvousHashConfig(load_factor=float(options.get("load_factor", 1.25)))),
        CircuitBreakerConfig(
            failure_threshold=int(options.get("breaker_failures", 3)),
            open_s=float(options.get("breaker_open_s", 5.0)),
        ),
    )
    replica_set.set_endpoints(endpoints)
    checker = HealthChecker(
        replica_set,
        HealthCheckerConfig(
            interval_s=float(options.get("health_interval_s", 2.0)),
            timeout_s=float(options.get("health_timeout_s", 5.0)),
            failure_threshold=int(options.get("failure_threshold", 2)),
        ),
    )
    config = RoutedScorerConfig(max_attempts=int(options.get("max_attempts", 2)), default_timeout_s=request_timeout_s)
    resolver = EndpointResolver(dns) if dns else None
    return RoutedScorer(replica_set, checker, config, resolver, name=backend)


def is_remote(scorer: Scorer) -> bool:
    """True for scorers that talk to an engine over HTTP (directly or through a router)."""
    return isinstance(scorer, RemoteScorer | RoutedScorer)
