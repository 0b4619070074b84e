"""What `slmrank data validate` prints: sizes, label balance per task, time range, split sizes, and the problems
that make a dataset unusable for training or evaluation (a task with one class, no member with a test period)."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from typing import Any

from training.data.dataset import Dataset
from training.data.split import ChronologicalSplit, SplitConfig

# A member needs a train, a val and a test interaction to appear in every period.
MIN_INTERACTIONS = 3


def dataset_stats(data: Dataset, split_config: SplitConfig | None = None) -> dict[str, Any]:
    """Counts, per-task positive rates, split sizes; `problems` lists what blocks training."""
    events = [e for es in data.member_events.values() for e in es]
    counts = [len(es) for es in data.member_events.values()]
    split = ChronologicalSplit(data, split_config)
    tasks = {}
    problems = []
    for task in data.spec.tasks:
        positives = sum(e.label(task.name) for e in events)
        tasks[task.name] = {"positives": positives, "positive_rate": positives / len(events)}
        if positives in (0, len(events)):
            problems.append(f"task {task.name!r}: every interaction has label {int(positives > 0)}; AUC needs both")
    periods = {name: len(split.period_events(name)) for name in ("train", "val", "test")}
    if not periods["test"] or not periods["train"]:
        problems.append(f"no member has {MIN_INTERACTIONS}+ interactions: nothing to train or test on")
    return {
        "name": data.spec.name,
        "num_items": len(data.items),
        "num_members": len(counts),
        "num_interactions": len(events),
        "interactions_per_member": {"min": min(counts), "median": statistics.median(counts), "max": max(counts)},
        "members_below_minimum": sum(c < MIN_INTERACTIONS for c in counts),
        "num_profile_snapshots": sum(len(s) for s in data.profiles.values()),
        "time_range": [_date(min(e.timestamp for e in events)), _date(max(e.timestamp for e in events))],
        "tasks": tasks,
        "split": periods,
        "items_never_used": len(set(data.items) - {e.item_id for e in events}),
        "problems": problems,
    }


def format_stats(stats: dict[str, Any]) -> str:
    """Human-readable lines."""
    per = stats["interactions_per_member"]
    lines = [
        f"dataset {stats['name']}: {stats['num_items']} items, {stats['num_members']} members, "
        f"{stats['num_interactions']} interactions ({stats['time_range'][0]} to {stats['time_range'][1]})",
        f"interactions per member: min {per['min']}, median {per['median']}, max {per['max']}; "
        f"{stats['members_below_minimum']} member(s) below {MIN_INTERACTIONS} (no val or test period)",
        f"profile snapshots: {stats['num_profile_snapshots']}; items never interacted with: "
        f"{stats['items_never_used']}",
        "split (interactions): " + ", ".join(f"{k} {v}" for k, v in stats["split"].items()),
    ]
    lines += [
        f"task {name}: {t['positives']} positives ({100 * t['positive_rate']:.1f}%)"
        for name, t in stats["tasks"].items()
    ]
    lines.append("ok" if not stats["problems"] else f"{len(stats['problems'])} problem(s)")
    return "\n".join(lines)


def _date(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
