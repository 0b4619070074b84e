"""The checkpoint card (`slmrank.json`): the single source of what a model does and how to ask it.

It holds the model's name, its prompt budgets, the ranking tasks it was trained for (instruction, question,
positive/negative label strings) and its input contract. Training and compression write it; serving, training,
evaluation and the load tester read it. Torch-free, so any package (the load tester too) may import it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ranking.input_contract import InputContract
from ranking.prompt_builder import PromptConfig
from ranking.tasks import Task

CARD_FILE = "slmrank.json"
CARD_VERSION = 1
INIT_HINT = "slmrank card init --model DIR --task NAME --instruction TEXT --question TEXT --labels POS NEG"


class CardError(ValueError):
    """A card is missing or malformed; the message names the file and the field."""


@dataclass(frozen=True)
class ModelCard:
    """What a checkpoint declares about itself. The first task is the default one."""

    model_name: str
    tasks: tuple[Task, ...]
    prompt: PromptConfig = field(default_factory=PromptConfig)
    input_contract: InputContract = field(default_factory=InputContract)

    def __post_init__(self) -> None:
        if not self.tasks:
            raise CardError("tasks: a card declares at least one task")
        names = [t.name for t in self.tasks]
        if len(set(names)) != len(names):
            raise CardError(f"tasks: duplicate task names {names}")

    @property
    def task_names(self) -> list[str]:
        return [t.name for t in self.tasks]

    @property
    def default_task(self) -> str:
        return self.tasks[0].name

    def task(self, name: str) -> Task:
        """The task called `name`; KeyError names the tasks this model has."""
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(f"unknown task {name!r}; this model's tasks: {self.task_names}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "card_version": CARD_VERSION,
            "model_name": self.model_name,
            "tasks": [t.to_dict() for t in self.tasks],
            "prompt": self.prompt.to_dict(),
            "input": self.input_contract.to_dict(),
        }

    def save(self, model_dir: str | Path) -> Path:
        """Write `slmrank.json` into `model_dir` (atomically)."""
        path = Path(model_dir) / CARD_FILE
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, model_dir: str | Path) -> ModelCard:
        """The card of a checkpoint directory; CardError names the file and the bad field."""
        path = Path(model_dir) / CARD_FILE
        if not path.exists():
            raise CardError(f"{path.parent} has no {CARD_FILE} (the model card); write one with: {INIT_HINT}")
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CardError(f"{path}: not valid JSON ({exc})") from None
        try:
            return cls.from_dict(data)
        except CardError as exc:
            raise CardError(f"{path}: {exc}") from None

    @classmethod
    def from_dict(cls, data: Any) -> ModelCard:
        """Validate a parsed card; CardError names the field."""
        if not isinstance(data, Mapping):
            raise CardError("the card must be a JSON object")
        unknown = set(data) - {"card_version", "model_name", "tasks", "prompt", "input"}
        if unknown:
            raise CardError(f"unknown field(s) {sorted(unknown)}")
        version = data.get("card_version", CARD_VERSION)
        if version != CARD_VERSION:
            raise CardError(f"card_version: {version!r} is not supported (this slmrank reads {CARD_VERSION})")
        return cls(
            model_name=_string(data, "model_name"),
            tasks=tuple(parse_task(t, f"tasks[{i}]") for i, t in enumerate(_list(data, "tasks"))),
            prompt=parse_prompt(data.get("prompt", {})),
            input_contract=parse_input(data.get("input", {})),
        )


def parse_task(raw: Any, where: str) -> Task:
    """One task object {name, instruction, question, labels: [positive, negative]}."""
    if isinstance(raw, str):
        raise CardError(
            f"{where}: {raw!r} is only a task name; a card declares each task as an object "
            f"{{name, instruction, question, labels}} (rewrite it with: {INIT_HINT})"
        )
    if not isinstance(raw, Mapping):
        raise CardError(f"{where}: must be an object {{name, instruction, question, labels}}")
    unknown = set(raw) - {"name", "instruction", "question", "labels"}
    if unknown:
        raise CardError(f"{where}: unknown field(s) {sorted(unknown)}")
    labels = raw.get("labels")
    if not (isinstance(labels, list) and len(labels) == 2 and all(isinstance(x, str) and x for x in labels)):
        raise CardError(f"{where}.labels: must be [positive, negative], two non-empty strings")
    if labels[0] == labels[1]:
        raise CardError(f"{where}.labels: positive and negative are the same string {labels[0]!r}")
    name = _string(raw, "name", where)
    if not name.replace("_", "").replace("-", "").isalnum():
        raise CardError(f"{where}.name: {name!r} must be letters, digits, '-' or '_'")
    return Task(name, _string(raw, "instruction", where), _string(raw, "question", where), labels[0], labels[1])


def parse_prompt(raw: Any) -> PromptConfig:
    """The prompt budgets; unknown keys and bad values are named."""
    if not isinstance(raw, Mapping):
        raise CardError("prompt: must be an object of token budgets")
    known = {f.name: f for f in fields(PromptConfig)}
    unknown = set(raw) - set(known)
    if unknown:
        raise CardError(f"prompt: unknown field(s) {sorted(unknown)}; known: {sorted(known)}")
    for key, value in raw.items():
        expected = type(known[key].default)  # every budget defaults to an int, every switch to a bool
        if type(value) is not expected:
            raise CardError(f"prompt.{key}: {value!r} must be {expected.__name__}")
    try:
        return PromptConfig(**raw)
    except ValueError as exc:
        raise CardError(f"prompt: {exc}") from None


INPUT_FIELDS = tuple(f.name for f in fields(InputContract))


def parse_input(raw: Any) -> InputContract:
    """The input contract: three descriptions and an optional example request."""
    if not isinstance(raw, Mapping):
        raise CardError(f"input: must be an object {{{', '.join(INPUT_FIELDS)}}}")
    unknown = set(raw) - set(INPUT_FIELDS)
    if unknown:
        raise CardError(f"input: unknown field(s) {sorted(unknown)}")
    texts = {k: _string(raw, k, "input") for k in INPUT_FIELDS if k != "example" and k in raw}
    example = raw.get("example")
    if example is not None and not isinstance(example, Mapping):
        raise CardError("input.example: must be a /rank request object")
    return InputContract(**texts, example=dict(example) if example is not None else None)


def _string(data: Mapping[str, Any], key: str, where: str = "") -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CardError(f"{where + '.' if where else ''}{key}: must be a non-empty string")
    return value


def _list(data: Mapping[str, Any], key: str) -> Sequence[Any]:
    value = data.get(key)
    if not isinstance(value, list) or not value:
        raise CardError(f"{key}: must be a non-empty list")
    return value
