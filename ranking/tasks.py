"""Instruction templates, one per ranking task, each with its own pair of single-token labels."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    """What the model is asked: the instruction opening the member prefix, the question closing each candidate."""

    name: str
    instruction: str
    question: str
    positive_label: str
    negative_label: str


# Label strings carry their leading space: after "Answer:" a byte-level BPE predicts " Yes", not "Yes".
TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task(
            name="like",
            instruction="Task: predict whether the member will like the candidate movie (4 stars or more).",
            question="Will the member like it?",
            positive_label=" Yes",
            negative_label=" No",
        ),
        Task(
            name="love",
            instruction="Task: predict whether the member will love the candidate movie (4.5 stars or more).",
            question="Will the member love it?",
            positive_label=" True",
            negative_label=" False",
        ),
    )
}


def get_task(name: str) -> Task:
    """The task called `name`; KeyError names the known ones."""
    try:
        return TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known tasks: {sorted(TASKS)}") from None
