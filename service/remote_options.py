"""The remote-backend options as the service reads them: unknown keys refused by name, CLI `SECTION.FIELD=VALUE`.

RemoteBackendConfig (ranking/backends/remote_config.py) is a tree of frozen dataclasses; pydantic fills it from
SLMRANK_REMOTE__<SECTION>__<FIELD>, a models file's `remote` table or `slmrank serve --remote`, but would drop a
misspelt key without a word, so every key is checked against the dataclass fields first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, get_type_hints

from ranking.backends.remote_config import RemoteBackendConfig


def unknown_keys(data: Any, cls: type = RemoteBackendConfig, where: str = "remote") -> list[str]:
    """Dotted paths in `data` (a nested mapping) that are not fields of the dataclass `cls`."""
    if not isinstance(data, Mapping):
        return []
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = get_type_hints(cls)
    bad = []
    for key, value in data.items():
        if key not in fields:
            bad.append(f"{where}.{key} (known: {', '.join(fields)})")
        elif dataclasses.is_dataclass(hints[key]):
            bad += unknown_keys(value, hints[key], f"{where}.{key}")
    return bad


def check_remote(data: Any) -> Any:
    """A pydantic before-validator: refuse unknown keys by their full path."""
    bad = unknown_keys(data)
    if bad:
        raise ValueError(f"unknown remote option(s): {'; '.join(bad)}")
    return data


def parse_assignments(items: Iterable[str]) -> dict[str, Any]:
    """`["sglang.api=score", "breaker.open_s=2"]` -> `{"sglang": {"api": "score"}, "breaker": {"open_s": "2"}}`."""
    tree: dict[str, Any] = {}
    for item in items:
        path, sep, value = item.partition("=")
        parts = path.strip().split(".")
        if not sep or len(parts) != 2 or not all(parts):
            raise ValueError(f"--remote {item!r}: expected SECTION.FIELD=VALUE, e.g. sglang.api=score")
        tree.setdefault(parts[0], {})[parts[1]] = value
    return tree


def option_rows(cls: type = RemoteBackendConfig, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any, str]]:
    """(dotted path, default, help) of every leaf option, in declaration order."""
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            yield from option_rows(hints[f.name], (*path, f.name))
        else:
            yield ".".join((*path, f.name)), f.default, str(f.metadata.get("help", ""))
