"""Every option of the HTTP engine backends in one typed, frozen config; each default is stated once, in the
config class that owns it (SGLangConfig, VLLMConfig, EngineClientConfig, the routing configs).

The service reaches it from the settings (SLMRANK_REMOTE__<SECTION>__<FIELD>, `remote` in a models file,
`slmrank serve --remote SECTION.FIELD=VALUE`); the README's configuration table is generated from these fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ranking.backends.engine_client import EngineClientConfig
from ranking.backends.sglang_scorer import SGLangConfig
from ranking.backends.vllm_scorer import VLLMConfig
from ranking.routing.circuit_breaker import CircuitBreakerConfig
from ranking.routing.health_checker import HealthCheckerConfig
from ranking.routing.rendezvous_hash import RendezvousHashConfig
from ranking.routing.routed_scorer import RoutedScorerConfig


@dataclass(frozen=True)
class RemoteBackendConfig:
    """SGLang and vLLM request options, the HTTP client, and routing over replicas."""

    sglang: SGLangConfig = field(default_factory=SGLangConfig)
    vllm: VLLMConfig = field(default_factory=VLLMConfig)
    client: EngineClientConfig = field(default_factory=EngineClientConfig)
    routing: RoutedScorerConfig = field(default_factory=RoutedScorerConfig)
    breaker: CircuitBreakerConfig = field(default_factory=CircuitBreakerConfig)
    health: HealthCheckerConfig = field(default_factory=HealthCheckerConfig)
    hashing: RendezvousHashConfig = field(default_factory=RendezvousHashConfig)
