"""Label tokens: each task's positive/negative label must be exactly one token of the model's vocabulary."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ranking.prompt_builder import TextEncoder
from ranking.tasks import Task


class LabelTokenError(ValueError):
    """A label string is not a single token of the tokenizer, or lies outside the model's vocabulary."""


@dataclass(frozen=True)
class LabelTokens:
    """Token ids whose next-token log-probabilities make a task's score."""

    task: str
    positive_id: int
    negative_id: int

    @property
    def ids(self) -> tuple[int, int]:
        return (self.positive_id, self.negative_id)


def resolve_label_tokens(tokenizer: TextEncoder, task: Task, vocab_size: int) -> LabelTokens:
    """Resolve and check a task's labels; raises LabelTokenError with the offending string."""
    ids = []
    for label in (task.positive_label, task.negative_label):
        encoded = tokenizer.encode(label, add_special_tokens=False)
        if len(encoded) != 1:
            raise LabelTokenError(
                f"task {task.name!r}: label {label!r} is {len(encoded)} tokens {_pieces(tokenizer, encoded)} "
                "of this tokenizer; a label must be exactly one token"
            )
        if not 0 <= encoded[0] < vocab_size:
            raise LabelTokenError(f"task {task.name!r}: label {label!r} id {encoded[0]} >= vocab {vocab_size}")
        ids.append(encoded[0])
    if ids[0] == ids[1]:
        raise LabelTokenError(f"task {task.name!r}: both labels map to token {ids[0]}")
    return LabelTokens(task.name, ids[0], ids[1])


def resolve_all(tokenizer: TextEncoder, tasks: Iterable[Task], vocab_size: int) -> dict[str, LabelTokens]:
    """Label tokens for every task, checked at start-up so a bad checkpoint fails before serving."""
    return {task.name: resolve_label_tokens(tokenizer, task, vocab_size) for task in tasks}


def _pieces(tokenizer: TextEncoder, ids: list[int]) -> list[str]:
    """The tokens as strings where the tokenizer can say (HF tokenizers can), else their ids."""
    convert = getattr(tokenizer, "convert_ids_to_tokens", None)
    return list(convert(ids)) if callable(convert) else [str(i) for i in ids]
