"""Load a PipelineConfig from a preset name or a TOML file, apply `--set key=value` overrides, refuse unknown keys."""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from training.recipes.pipeline_config import PipelineConfig


class ConfigError(ValueError):
    """A configuration file or override is wrong; the message names the key."""


def preset_names() -> list[str]:
    """The presets shipped with the package (training/recipes/configs/*.toml)."""
    folder = resources.files("training.recipes") / "configs"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def preset_text(name: str) -> str:
    path = resources.files("training.recipes") / "configs" / f"{name}.toml"
    if not path.is_file():
        raise ConfigError(f"unknown config {name!r}: not a file and not a preset (presets: {preset_names()})")
    return path.read_text(encoding="utf-8")


def load_config(name_or_path: str | Path, overrides: Sequence[str] = ()) -> PipelineConfig:
    """A preset (`smoke`) or a TOML file, with `section.key=value` overrides (values in TOML syntax)."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.is_file():
        if not path.is_file():
            raise ConfigError(f"{path}: no such config file")
        text, source = path.read_text(encoding="utf-8"), str(path)
    else:
        text, source = preset_text(str(name_or_path)), f"preset {name_or_path}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    for override in overrides:
        apply_override(data, override)
    inherit(data, "sft_train", "student_train")
    return build(PipelineConfig, data, "")


def inherit(data: dict[str, Any], section: str, base: str) -> None:
    """A present `section` starts from `base`'s keys: `[sft_train] steps = 3200` changes only the steps."""
    if section in data and isinstance(data[section], dict) and isinstance(data.get(base, {}), dict):
        data[section] = {**data.get(base, {}), **data[section]}


def apply_override(data: dict[str, Any], override: str) -> None:
    """`teacher_train.steps=5` -> data["teacher_train"]["steps"] = 5; a value that is not TOML is a string."""
    key, sep, raw = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {override!r}: expected key=value, e.g. teacher_train.steps=100")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    *sections, leaf = key.strip().split(".")
    node = data
    for section in sections:
        node = node.setdefault(section, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {override!r}: {section} is not a section")
    node[leaf] = value


def build(cls: type, data: Mapping[str, Any], where: str) -> Any:
    """A dataclass from a mapping: unknown keys and wrong types are ConfigErrors naming the key."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or 'config'}: must be a table of keys")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"unknown key {_join(where, unknown[0])}; known in {where or 'the top level'}: {sorted(names)}"
        )
    values = {name: _value(hints[name], data[name], _join(where, name)) for name in data}
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where or 'config'}: {exc}") from None


def _value(hint: Any, value: Any, where: str) -> Any:
    hint = _optional_dataclass(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return build(hint, value, where)
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: {value!r} must be a list of strings")
        return tuple(value)
    expected = _scalar(hint)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: {value!r} must be {expected.__name__}")
    return value


def _optional_dataclass(hint: Any) -> Any:
    """`SomeConfig | None` -> SomeConfig (a section that may be absent); any other hint unchanged."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if len(args) == 1 and isinstance(args[0], type) and dataclasses.is_dataclass(args[0]):
        return args[0]
    return hint


def _scalar(hint: Any) -> type:
    if hint in (int, float, str, bool):
        return typing.cast(type, hint)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if len(args) == 1 and args[0] in (int, float, str, bool):
        return typing.cast(type, args[0])
    raise ConfigError(f"unsupported config type {hint!r}")


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
