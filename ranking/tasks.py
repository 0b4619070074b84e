"""A ranking task: the instruction opening a member prefix, the question closing each candidate, two labels.

Tasks are data, not code: a checkpoint's card (ranking/card.py) declares the tasks it was trained for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Task:
    """What the model is asked; labels carry their leading space (after "Answer:" a BPE predicts " Yes")."""

    name: str
    instruction: str
    question: str
    positive_label: str
    negative_label: str

    @property
    def labels(self) -> tuple[str, str]:
        return (self.positive_label, self.negative_label)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "instruction": self.instruction,
            "question": self.question,
            "labels": [self.positive_label, self.negative_label],
        }
