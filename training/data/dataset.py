"""A dataset in the project's format, in memory: items, each member's interactions in time order, profile snapshots.

The format (docs/data.md) is a folder of `dataset.json`, `items.jsonl`, `interactions.jsonl` and optionally
`members.jsonl`; `training.data.dataset_reader` reads and validates it, `Dataset.save` writes it. Nothing here
knows what the items are: MovieLens is one dataset among others (training/data/movielens_converter.py).
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ranking.input_contract import InputContract
from ranking.tasks import Task

SPEC_FILE = "dataset.json"
ITEMS_FILE = "items.jsonl"
INTERACTIONS_FILE = "interactions.jsonl"
MEMBERS_FILE = "members.jsonl"

Profile = str | dict[str, Any]


@dataclass(frozen=True)
class Item:
    """One item as the model sees it, in history lines and as a candidate."""

    item_id: str
    text: str


@dataclass(frozen=True)
class Event:
    """One line of interactions.jsonl: a member did `action` with an item at `timestamp`; 0/1 label per task."""

    member_id: str
    item_id: str
    timestamp: int
    action: str
    labels: Mapping[str, int] = field(compare=False)

    def label(self, task: str) -> bool:
        return bool(self.labels[task])


@dataclass(frozen=True)
class ProfileSnapshot:
    """A member's profile as known from `as_of` on (None: known from the start); describes only the past."""

    profile: Profile
    as_of: int | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """dataset.json: the dataset's name, licence, the tasks it labels and (optionally) its input contract."""

    name: str
    licence: str
    tasks: tuple[Task, ...]
    input_contract: InputContract = field(default_factory=InputContract)

    def task(self, name: str) -> Task:
        """The task called `name`; KeyError names the dataset's tasks."""
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(f"unknown task {name!r}; this dataset's tasks: {[t.name for t in self.tasks]}")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "licence": self.licence, "tasks": [t.to_dict() for t in self.tasks]}
        if self.input_contract != InputContract():
            out["input"] = self.input_contract.to_dict()
        return out


class Dataset:
    """Items by id, every member's events in time order (file order breaks ties), profile snapshots by member."""

    def __init__(
        self,
        spec: DatasetSpec,
        items: dict[str, Item],
        events: Iterable[Event],
        profiles: Mapping[str, list[ProfileSnapshot]] | None = None,
        checksums: dict[str, str] | None = None,
    ) -> None:
        self.spec = spec
        self.items = items
        self.checksums = checksums or {}
        by_member: dict[str, list[Event]] = {}
        for event in events:
            by_member.setdefault(event.member_id, []).append(event)
        # Members in order of first appearance; a stable sort keeps file order for equal timestamps.
        self.member_events = {m: sorted(es, key=lambda e: e.timestamp) for m, es in by_member.items()}
        self.profiles = {m: sorted(s, key=_snapshot_key) for m, s in (profiles or {}).items()}
        self._as_of = {m: [_snapshot_key(s) for s in snaps] for m, snaps in self.profiles.items()}

    @property
    def num_interactions(self) -> int:
        return sum(len(es) for es in self.member_events.values())

    def profile_at(self, member_id: str, time: int) -> Profile | None:
        """The latest snapshot with as_of at or before `time` (None when the member has none yet)."""
        keys = self._as_of.get(member_id)
        if not keys:
            return None
        i = bisect.bisect_right(keys, time)
        return self.profiles[member_id][i - 1].profile if i else None

    def subset(self, member_ids: Iterable[str]) -> Dataset:
        """The same items and spec with only these members (smoke runs)."""
        keep = list(member_ids)
        events = [e for m in keep for e in self.member_events[m]]
        profiles = {m: self.profiles[m] for m in keep if m in self.profiles}
        return Dataset(self.spec, self.items, events, profiles, self.checksums)

    def save(self, out_dir: str | Path) -> Path:
        """Write the dataset in the reference JSONL format (members.jsonl only when there are profiles)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / SPEC_FILE).write_text(json.dumps(self.spec.to_dict(), indent=2, ensure_ascii=False) + "\n")
        _write_jsonl(out / ITEMS_FILE, ({"item_id": i.item_id, "text": i.text} for i in self.items.values()))
        _write_jsonl(out / INTERACTIONS_FILE, (_event_row(e) for es in self.member_events.values() for e in es))
        if self.profiles:
            rows = (_snapshot_row(m, s) for m, snaps in self.profiles.items() for s in snaps)
            _write_jsonl(out / MEMBERS_FILE, rows)
        return out


def _snapshot_key(snapshot: ProfileSnapshot) -> int:
    return snapshot.as_of if snapshot.as_of is not None else -(2**63)


def _event_row(e: Event) -> dict[str, Any]:
    return {
        "member_id": e.member_id,
        "item_id": e.item_id,
        "timestamp": e.timestamp,
        "action": e.action,
        "labels": dict(e.labels),
    }


def _snapshot_row(member_id: str, s: ProfileSnapshot) -> dict[str, Any]:
    row: dict[str, Any] = {"member_id": member_id, "profile": s.profile}
    if s.as_of is not None:
        row["as_of"] = s.as_of
    return row


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
