"""The gateway's prompt as plain text, for engine-direct targets and for sizing histories in characters.

The framing text comes from ranking/prompt_template.py and the task texts from the model's card (ranking/card.py),
so nothing here can drift from what the gateway builds. It is approximate by design: the gateway joins token ids
(prefix ids + suffix ids) and cuts history to its token budget, while an engine sent text tokenizes the whole
string at once. The member prefix is still one identical string for all k candidates of a member, so prefix
caching in the engine behaves the same way.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ranking import prompt_template
from ranking.tasks import Task

EMPTY_HISTORY = prompt_template.EMPTY_HISTORY


@dataclass(frozen=True)
class HistoryLine:
    """One past interaction as the gateway's API takes it."""

    item: str
    action: str
    timestamp: int


def history_line_text(line: HistoryLine) -> str:
    """One history line as the prompt shows it."""
    return prompt_template.history_line(line.action, line.item) + "\n"


def prefix_text(
    profile: str | dict[str, Any] | None,
    history: Sequence[HistoryLine],
    task: Task,
    member_rate: float | None = None,
) -> str:
    """Instruction, profile (and rate, for models that show rates) and history: the part all k share."""
    lines = [(h.action, h.item) for h in history]
    return prompt_template.prefix_text(task.instruction, profile, lines, member_rate)


def suffix_text(
    candidate_text: str, task: Task, item_rate: float | None = None, similar_rate: float | None = None
) -> str:
    """The candidate (and its rates) and the question; the label token comes right after `Answer:`."""
    return prompt_template.suffix_text(candidate_text, task.question, item_rate, similar_rate)


def pseudo_rate(key: str) -> float:
    """A label rate in [0, 1] that is the same every time for `key`: load tests need a value, not a true one."""
    return (zlib.crc32(key.encode()) % 101) / 100
