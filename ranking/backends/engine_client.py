"""HTTP to one engine: JSON in and out; every failure becomes a ScorerError that carries no prompt text."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from ranking.routing.routed_scorer import NonRetryableScorerError
from ranking.scorer import ScorerError, ScorerOverloadedError, ScorerTimeoutError, ScorerUnavailableError


class EngineProtocolError(ScorerError):
    """The engine answered 2xx with a body we cannot use (not JSON, wrong shape, wrong count)."""


@dataclass(frozen=True)
class EngineClientConfig:
    """Connection pool, connect timeout (request timeouts come from each batch's deadline), and how many member
    prefixes a replica's client remembers having warmed (for `warmup = new`)."""

    max_connections: int = field(default=64, metadata={"help": "HTTP connections per engine replica."})
    max_keepalive_connections: int = field(
        default=16, metadata={"help": "Idle keep-alive connections kept per engine replica (at most max_connections)."}
    )
    connect_timeout_s: float = field(default=1.0, metadata={"help": "TCP connect timeout to a replica, seconds."})
    seen_prefixes: int = field(
        default=4096,
        metadata={"help": "Member prefixes remembered per replica as already sent (warmup=new); oldest forgotten."},
    )

    def __post_init__(self) -> None:
        if self.max_connections < 1 or self.connect_timeout_s <= 0:
            raise ValueError("EngineClientConfig: max_connections >= 1 and connect_timeout_s > 0")
        if self.max_keepalive_connections < 0:
            raise ValueError("EngineClientConfig: max_keepalive_connections >= 0")
        if self.seen_prefixes < 1:
            raise ValueError("EngineClientConfig: seen_prefixes >= 1")


class EngineClient:
    """A keep-alive httpx client bound to one engine base URL."""

    def __init__(self, base_url: str, config: EngineClientConfig | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.config = config or EngineClientConfig()
        keepalive = min(self.config.max_keepalive_connections, self.config.max_connections)
        limits = httpx.Limits(max_connections=self.config.max_connections, max_keepalive_connections=keepalive)
        self._http = httpx.AsyncClient(base_url=self.base_url, limits=limits, trust_env=False)

    async def close(self) -> None:
        await self._http.aclose()

    async def post_json(self, path: str, body: dict[str, Any], timeout_s: float) -> Any:
        """POST `body` and return the parsed JSON, or raise the ScorerError that fits the failure."""
        timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, self.config.connect_timeout_s))
        try:
            response = await self._http.post(
                path, content=json.dumps(body), timeout=timeout, headers={"content-type": "application/json"}
            )
        except httpx.TimeoutException:
            raise ScorerTimeoutError(f"engine {self.base_url}{path} timed out after {timeout_s:.2f}s") from None
        except httpx.TransportError as exc:
            raise ScorerUnavailableError(f"engine {self.base_url} unreachable ({type(exc).__name__})") from None
        self._raise_for_status(path, response.status_code)
        try:
            return json.loads(response.content)
        except ValueError:
            raise EngineProtocolError(f"engine {self.base_url}{path} returned a body that is not JSON") from None

    async def get_ok(self, path: str, timeout_s: float) -> bool:
        """True when GET `path` answers 2xx in time; any failure is False."""
        try:
            response = await self._http.get(path, timeout=timeout_s)
        except httpx.HTTPError:
            return False
        return 200 <= response.status_code < 300

    async def get_text(self, path: str, timeout_s: float) -> str:
        """GET `path` as text (for /metrics); raises ScorerUnavailableError on failure."""
        try:
            response = await self._http.get(path, timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise ScorerUnavailableError(f"engine {self.base_url} unreachable ({type(exc).__name__})") from None
        self._raise_for_status(path, response.status_code)
        return response.text

    def _raise_for_status(self, path: str, status: int) -> None:
        """5xx and 429 are the replica's fault (retry elsewhere); other 4xx the request's (no retry)."""
        where = f"engine {self.base_url}{path}"
        if status == 429:
            raise ScorerOverloadedError(f"{where} is overloaded (HTTP 429)")
        if status >= 500:
            raise ScorerUnavailableError(f"{where} failed (HTTP {status})")
        if status >= 400:
            raise NonRetryableScorerError(f"{where} rejected the request (HTTP {status})")
