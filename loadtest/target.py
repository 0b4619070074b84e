"""What a load test talks to: one HTTP endpoint, a request body per WorkItem, and the facts read back.

A Target never times anything; the runner does, around `send`. Failures come back as an Outcome with an
error kind (`timeout`, `connect`, `http_503:overloaded`, `bad_response`, ...) instead of raising, so one bad
response is counted and never stops the run.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import httpx

from loadtest.workload import WorkItem


@dataclass(frozen=True)
class Outcome:
    """The result of one request as far as the client can tell."""

    is_ok: bool
    status: int | None = None
    error: str | None = None
    prompt_tokens: int | None = None
    cached_tokens: int | None = None
    engine_ms: float | None = None
    model: str | None = None

    @classmethod
    def failed(cls, error: str, status: int | None = None) -> Outcome:
        return cls(is_ok=False, status=status, error=error)


class BadResponseError(ValueError):
    """A 200 response whose body does not have what the target expects (e.g. fewer than k scores)."""


class Target(ABC):
    """An HTTP endpoint that scores k candidates for one member per request."""

    name: str = "target"
    path: str = "/"

    def __init__(self, base_url: str, api_key: str | None = None, model: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.model = model

    @property
    def url(self) -> str:
        return self.base_url + self.path

    def headers(self) -> dict[str, str]:
        """Content type, and a bearer token when an API key is set."""
        headers = {"content-type": "application/json"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        return headers

    async def prepare(self, client: httpx.AsyncClient) -> None:  # noqa: B027  (optional hook)
        """Anything to learn from the server before the run (e.g. the served model's name)."""

    def encode(self, item: WorkItem) -> bytes:
        """The request body, encoded once before the run so building it never delays a send."""
        return json.dumps(self.body(item), separators=(",", ":")).encode()

    @abstractmethod
    def body(self, item: WorkItem) -> dict[str, Any]:
        """The JSON request for one member and its k candidates."""

    @abstractmethod
    def parse(self, payload: Any, num_candidates: int) -> Outcome:
        """Read a 200 response; raise BadResponseError when it lacks the k scores."""

    async def send(self, client: httpx.AsyncClient, body: bytes, num_candidates: int) -> Outcome:
        """POST one request and classify what came back."""
        try:
            response = await client.post(self.url, content=body, headers=self.headers())
        except httpx.TimeoutException:
            return Outcome.failed("timeout")
        except httpx.ConnectError:
            return Outcome.failed("connect")
        except httpx.HTTPError as exc:
            return Outcome.failed(f"transport:{type(exc).__name__}")
        if response.status_code != 200:
            return Outcome.failed(f"http_{response.status_code}{_error_code(response)}", response.status_code)
        try:
            return self.parse(response.json(), num_candidates)
        except (ValueError, KeyError, TypeError, IndexError):
            return Outcome.failed("bad_response", response.status_code)


def _error_code(response: httpx.Response) -> str:
    """`:code` from the gateway's error shape, if the body has one."""
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return ""
    return f":{code}" if isinstance(code, str) and code.isidentifier() else ""


def optional_int(value: Any) -> int | None:
    """An int from a JSON value that may be missing."""
    return int(value) if isinstance(value, int | float) else None
