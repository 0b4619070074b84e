"""The gateway's prompt as plain text, for engine-direct targets and for sizing histories in characters.

loadtest may not import `ranking`, so this mirrors ranking/prompt_builder.py and ranking/tasks.py by hand.
It is approximate by design: the gateway joins token ids (prefix ids + suffix ids) and cuts history to its
token budget, while an engine sent text tokenizes the whole string at once. The member prefix is still one
identical string for all k candidates of a member, so prefix caching in the engine behaves the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TaskText:
    """The instruction opening a member prefix and the question closing each candidate."""

    instruction: str
    question: str


TASK_TEXTS: dict[str, TaskText] = {
    "like": TaskText(
        "Task: predict whether the member will like the candidate movie (4 stars or more).",
        "Will the member like it?",
    ),
    "love": TaskText(
        "Task: predict whether the member will love the candidate movie (4.5 stars or more).",
        "Will the member love it?",
    ),
}


@dataclass(frozen=True)
class HistoryLine:
    """One past interaction as the gateway's API takes it."""

    item: str
    action: str
    timestamp: int


def task_text(task: str) -> TaskText:
    """The texts of a task; ValueError names the known tasks."""
    if task not in TASK_TEXTS:
        raise ValueError(f"unknown task {task!r}; known: {sorted(TASK_TEXTS)}")
    return TASK_TEXTS[task]


def render_profile(profile: str | dict[str, Any] | None) -> str:
    """Free text as is; fields as `key: value` joined by `; ` (as the gateway renders them)."""
    if profile is None:
        return "unknown"
    if isinstance(profile, str):
        return profile.strip() or "unknown"
    return "; ".join(f"{k}: {v}" for k, v in profile.items()) or "unknown"


def history_line_text(line: HistoryLine) -> str:
    """One history line as the prompt shows it."""
    return f"- {line.action}: {line.item}\n"


def prefix_text(profile: str | dict[str, Any] | None, history: Sequence[HistoryLine], task: str) -> str:
    """Instruction, profile and history, oldest first: the part shared by all k candidates."""
    texts = task_text(task)
    head = f"{texts.instruction}\nMember profile: {render_profile(profile)}\nRecent activity, oldest first:\n"
    body = "".join(history_line_text(h) for h in history) or "(none)\n"
    return head + body


def suffix_text(candidate_text: str, task: str) -> str:
    """The candidate and the question; the label token comes right after `Answer:`."""
    return f"Candidate: {candidate_text}\n{task_text(task).question} Answer:"
