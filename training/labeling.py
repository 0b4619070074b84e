"""Label semantics of the ranking tasks: which star ratings count as positive for each task."""

from __future__ import annotations

from dataclasses import dataclass

from ranking.tasks import TASKS


@dataclass(frozen=True)
class Labeling:
    """A task's positive threshold: rating >= `min_positive_rating` is a positive example."""

    task: str
    min_positive_rating: float

    def is_positive(self, rating: float) -> bool:
        return rating >= self.min_positive_rating


# Kept in step with the instructions in ranking/tasks.py ("4 stars or more", "4.5 stars or more").
LABELINGS: dict[str, Labeling] = {
    "like": Labeling("like", 4.0),
    "love": Labeling("love", 4.5),
}


def get_labeling(task: str) -> Labeling:
    """The labeling of a known task; KeyError names the known ones."""
    if task not in LABELINGS or task not in TASKS:
        raise KeyError(f"no labeling for task {task!r}; known: {sorted(set(LABELINGS) & set(TASKS))}")
    return LABELINGS[task]
