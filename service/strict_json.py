"""Strict JSON for request bodies: RFC 8259 / I-JSON, checked before FastAPI parses the body.

Python's json module accepts what other parsers refuse or silently change: NaN and Infinity, floats that
overflow to infinity, integers of thousands of digits, lone UTF-16 surrogate escapes (which cannot be encoded
back to UTF-8), and nesting deep enough to exhaust the recursion limit. Each of these becomes a 400
`invalid_json` naming the field; nothing of the value is echoed or logged.
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.raw_error import count_error, send_error
from service.schemas import ErrorDetail

# Python's own bound on int() from text (sys.int_info.default_max_str_digits); metadata is opaque, so any
# integer below it is returned as sent.
MAX_INT_DIGITS = 4300


class StrictJsonError(ValueError):
    """The body is not strict JSON; `detail` names where."""

    def __init__(self, field: str, message: str, limit: int | None = None) -> None:
        super().__init__(message)
        self.detail = ErrorDetail(field=field, message=message, limit=limit)


def _parse_constant(name: str) -> Any:
    raise StrictJsonError("body", f"{name} is not JSON (RFC 8259); send a string or null")


def _parse_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise StrictJsonError("body", "a number overflows a 64-bit float")
    return value


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise StrictJsonError("body", f"an integer has more than {MAX_INT_DIGITS} digits", MAX_INT_DIGITS)
    return int(text)


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def _child_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def check_tree(value: Any, max_depth: int) -> None:
    """Refuse nesting deeper than `max_depth` and strings (keys too) holding an unpaired surrogate."""
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, str):
            if _has_surrogate(node):
                raise StrictJsonError(path or "body", "string holds an unpaired UTF-16 surrogate escape")
            continue
        if not isinstance(node, dict | list):
            continue
        if depth > max_depth:
            raise StrictJsonError(path or "body", f"nested deeper than {max_depth} levels", max_depth)
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            if isinstance(key, str) and _has_surrogate(key):
                raise StrictJsonError(path or "body", "a key holds an unpaired UTF-16 surrogate escape")
            stack.append((child, _child_path(path, key), depth + 1))


def parse_strict(body: bytes, max_depth: int) -> Any:
    """The parsed body, or StrictJsonError naming what is wrong and where."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StrictJsonError("body", f"not valid UTF-8 at byte {exc.start}") from None
    try:
        value = json.loads(text, parse_constant=_parse_constant, parse_float=_parse_float, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise StrictJsonError("body", f"JSON syntax error at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise StrictJsonError("body", f"nested deeper than {max_depth} levels", max_depth) from None
    check_tree(value, max_depth)
    return value


class StrictJsonMiddleware:
    """Reads a POST body whole (BodyLimitMiddleware bounds it), refuses non-strict JSON, replays the rest."""

    def __init__(self, app: ASGIApp, max_depth: int) -> None:
        self.app = app
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before the body was complete
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            try:
                parse_strict(body, self.max_depth)
            except StrictJsonError as exc:
                count_error(scope, "invalid_json")
                await send_error(send, 400, "invalid_json", "request body is not valid JSON", [exc.detail])
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
