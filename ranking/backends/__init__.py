"""Remote engine backends (SGLang, vLLM over HTTP) and the builder the service calls.

`build_remote_scorer` returns a RoutedScorer over one or more replicas: member-affinity routing, health
checks, a circuit breaker per replica and one retry on the next replica within the batch deadline, all set by
one RemoteBackendConfig.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ranking.backends.remote_config import RemoteBackendConfig
from ranking.backends.remote_scorer import RemoteScorer
from ranking.backends.sglang_scorer import SGLangScorer
from ranking.backends.vllm_scorer import VLLMScorer
from ranking.routing.endpoint_resolver import EndpointResolver
from ranking.routing.health_checker import HealthChecker
from ranking.routing.rendezvous_hash import RendezvousHash
from ranking.routing.replica import ReplicaScorer
from ranking.routing.replica_set import ReplicaSet
from ranking.routing.routed_scorer import RoutedScorer
from ranking.scorer import Scorer

BACKENDS = ("sglang", "vllm")

__all__ = ["BACKENDS", "RemoteBackendConfig", "build_remote_scorer", "make_replica_factory"]


def make_replica_factory(
    backend: str, model_name: str, config: RemoteBackendConfig | None = None
) -> Callable[[str], ReplicaScorer]:
    """A function URL -> replica scorer for `backend`; SGLang's /v1/score names the model `model_name`."""
    config = config or RemoteBackendConfig()
    if backend == "sglang":
        sglang = replace(config.sglang, model_name=config.sglang.model_name or model_name)
        return lambda url: SGLangScorer(url, sglang, config.client)
    if backend == "vllm":
        return lambda url: VLLMScorer(url, config.vllm, config.client)
    raise ValueError(f"engine backend must be one of {BACKENDS}, got {backend!r}")


def build_remote_scorer(
    backend: str,
    endpoints: list[str],
    dns: str | None,
    model_name: str,
    config: RemoteBackendConfig | None = None,
) -> Scorer:
    """A routed Scorer over the engine replicas at `endpoints` (base URLs) or behind `dns` ("host:port")."""
    if not endpoints and not dns:
        raise ValueError("give engine endpoints (SLMRANK_ENGINE_URLS) or a DNS name (SLMRANK_ENGINE_DNS)")
    config = config or RemoteBackendConfig()
    factory = make_replica_factory(backend, model_name, config)
    replica_set = ReplicaSet(factory, RendezvousHash(config.hashing), config.breaker)
    replica_set.set_endpoints(endpoints)
    checker = HealthChecker(replica_set, config.health)
    resolver = EndpointResolver(dns) if dns else None
    return RoutedScorer(replica_set, checker, config.routing, resolver, name=backend)


def is_remote(scorer: Scorer) -> bool:
    """True for scorers that talk to an engine over HTTP (directly or through a router)."""
    return isinstance(scorer, RemoteScorer | RoutedScorer)
