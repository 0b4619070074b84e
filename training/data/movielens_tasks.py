"""The MovieLens demo's ranking tasks: their texts and the star rating that makes an interaction positive.

Each task's instruction and its threshold live here together, so "4 stars or more" is never written twice.
Only MovieLens-specific code reads this; a trained checkpoint carries the tasks in its card (ranking/card.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from ranking.tasks import Task


@dataclass(frozen=True)
class RatingTask:
    """A task whose positives are ratings >= `min_positive_rating`."""

    task: Task
    min_positive_rating: float

    def is_positive(self, rating: float) -> bool:
        return rating >= self.min_positive_rating


def _rating_task(name: str, verb: str, stars: float, labels: tuple[str, str]) -> RatingTask:
    shown = f"{stars:g} stars or more"
    task = Task(
        name=name,
        instruction=f"Task: predict whether the member will {verb} the candidate movie ({shown}).",
        question=f"Will the member {verb} it?",
        positive_label=labels[0],
        negative_label=labels[1],
    )
    return RatingTask(task, stars)


MOVIELENS_TASKS: dict[str, RatingTask] = {
    t.task.name: t
    for t in (
        _rating_task("like", "like", 4.0, (" Yes", " No")),
        _rating_task("love", "love", 4.5, (" True", " False")),
    )
}


def movielens_task(name: str) -> RatingTask:
    """The MovieLens task called `name`; KeyError names the known ones."""
    try:
        return MOVIELENS_TASKS[name]
    except KeyError:
        raise KeyError(f"unknown MovieLens task {name!r}; known: {sorted(MOVIELENS_TASKS)}") from None


def movielens_tasks() -> dict[str, Task]:
    """The demo's tasks as the card declares them, by name."""
    return {name: rating_task.task for name, rating_task in MOVIELENS_TASKS.items()}
