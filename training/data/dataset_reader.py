"""Read and validate a dataset folder; every problem is reported as `file:line: field: what is wrong`.

Problems are collected (up to MAX_PROBLEMS) rather than raised one by one, so a user fixes a file in one pass.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ranking.card import CardError, parse_input, parse_task
from training.data.dataset import (
    INTERACTIONS_FILE,
    ITEMS_FILE,
    MEMBERS_FILE,
    SPEC_FILE,
    Dataset,
    DatasetSpec,
    Event,
    Item,
    ProfileSnapshot,
)
from training.data.dataset_csv import csv_records

MAX_PROBLEMS = 20


class DataError(ValueError):
    """A dataset folder is not in the format; the message lists `file:line: field: problem` lines."""


class Problems:
    """Collects `file:line: field: message` lines; raises DataError once too many or at the end."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, file: str, line: int | None, fld: str, message: str) -> None:
        where = f"{file}:{line}" if line is not None else file
        self.lines.append(f"{where}: {fld}: {message}" if fld else f"{where}: {message}")
        if len(self.lines) >= MAX_PROBLEMS:
            self.raise_if_any()

    def raise_if_any(self) -> None:
        if self.lines:
            more = " (stopped at the first 20)" if len(self.lines) >= MAX_PROBLEMS else ""
            raise DataError(f"{len(self.lines)} problem(s) in the dataset{more}:\n  " + "\n  ".join(self.lines))


def load_dataset(data_dir: str | Path) -> Dataset:
    """The dataset in `data_dir`, validated; DataError names file, line and field of every problem found."""
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder (a dataset is a folder with {SPEC_FILE}, {ITEMS_FILE}, ...)")
    if not (root / SPEC_FILE).is_file():
        raise DataError(f"{SPEC_FILE}: missing from {root} (see docs/data.md)")
    files = {name: table_file(root, name) for name in (ITEMS_FILE, INTERACTIONS_FILE, MEMBERS_FILE)}
    for name in (ITEMS_FILE, INTERACTIONS_FILE):
        if files[name] is None:
            raise DataError(f"{name}: missing from {root} (or its .csv equivalent; see docs/data.md)")
    spec = read_spec(root / SPEC_FILE)
    problems = Problems()
    items = read_items(_required(files[ITEMS_FILE]), problems)
    events = read_events(_required(files[INTERACTIONS_FILE]), items, [t.name for t in spec.tasks], problems)
    members = files[MEMBERS_FILE]
    profiles = read_profiles(members, problems) if members is not None else {}
    problems.raise_if_any()
    present = [root / SPEC_FILE, *(p for p in files.values() if p is not None)]
    checksums = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in present}
    return Dataset(spec, items, events, profiles, checksums)


def table_file(root: Path, jsonl_name: str) -> Path | None:
    """`name.jsonl`, else its CSV equivalent `name.csv`, else None; both at once is ambiguous."""
    jsonl, csv_path = root / jsonl_name, root / jsonl_name.replace(".jsonl", ".csv")
    if jsonl.is_file() and csv_path.is_file():
        raise DataError(f"{root}: both {jsonl.name} and {csv_path.name}; keep one")
    return jsonl if jsonl.is_file() else csv_path if csv_path.is_file() else None


def _required(path: Path | None) -> Path:
    assert path is not None
    return path


def read_spec(path: Path) -> DatasetSpec:
    """dataset.json: {name, licence, tasks: [{name, instruction, question, labels}], input (optional)}."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path.name}: not valid JSON ({exc})") from None
    if not isinstance(raw, Mapping):
        raise DataError(f"{path.name}: must be a JSON object {{name, licence, tasks}}")
    unknown = set(raw) - {"name", "licence", "tasks", "input"}
    if unknown:
        raise DataError(f"{path.name}: unknown field(s) {sorted(unknown)}; known: input, licence, name, tasks")
    for key in ("name", "licence"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise DataError(f"{path.name}: {key}: must be a non-empty string")
    tasks = raw.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        raise DataError(f"{path.name}: tasks: must be a non-empty list of {{name, instruction, question, labels}}")
    try:
        parsed = tuple(parse_task(t, f"tasks[{i}]") for i, t in enumerate(tasks))
        contract = parse_input(raw.get("input", {}))
    except CardError as exc:
        raise DataError(f"{path.name}: {exc}") from None
    names = [t.name for t in parsed]
    if len(set(names)) != len(names):
        raise DataError(f"{path.name}: tasks: duplicate task names {names}")
    return DatasetSpec(raw["name"], raw["licence"], parsed, contract)


def jsonl_rows(path: Path, problems: Problems, fields: dict[str, bool]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) of a JSONL or CSV file; bad JSON, unknown and missing fields become problems."""
    rows = csv_records(path) if path.suffix == ".csv" else json_records(path, problems)
    for number, row in rows:
        unknown = set(row) - set(fields)
        missing = [k for k, required in fields.items() if required and k not in row]
        for key in sorted(unknown):
            problems.add(path.name, number, key, f"unknown field; known: {', '.join(fields)}")
        for key in missing:
            problems.add(path.name, number, key, "missing")
        if not unknown and not missing:
            yield number, row


def json_records(path: Path, problems: Problems) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of every non-blank line that is a JSON object."""
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.add(path.name, number, "", f"not valid JSON ({exc.msg})")
                continue
            if not isinstance(row, dict):
                problems.add(path.name, number, "", "each line must be a JSON object")
                continue
            yield number, row


def read_items(path: Path, problems: Problems) -> dict[str, Item]:
    """items.jsonl -> {item_id: Item}; ids unique, texts non-empty."""
    items: dict[str, Item] = {}
    for number, row in jsonl_rows(path, problems, {"item_id": True, "text": True}):
        item_id, text = row["item_id"], row["text"]
        if not _is_id(item_id):
            problems.add(path.name, number, "item_id", f"{item_id!r} must be a non-empty string")
        elif item_id in items:
            problems.add(path.name, number, "item_id", f"{item_id!r} appears twice")
        elif not isinstance(text, str) or not text.strip():
            problems.add(path.name, number, "text", "must be a non-empty string")
        else:
            items[item_id] = Item(item_id, text)
    if not items and not problems.lines:
        problems.add(path.name, None, "", "has no items")
    return items


def read_events(path: Path, items: Mapping[str, Item], tasks: list[str], problems: Problems) -> list[Event]:
    """interactions.jsonl -> [Event]; item ids resolve, timestamps are ints, one 0/1 label per declared task."""
    fields = {"member_id": True, "item_id": True, "timestamp": True, "action": True, "labels": True}
    events = []
    for number, row in jsonl_rows(path, problems, fields):
        problem = _event_problem(row, items, tasks)
        if problem is not None:
            problems.add(path.name, number, *problem)
            continue
        events.append(Event(row["member_id"], row["item_id"], row["timestamp"], row["action"], row["labels"]))
    if not events and not problems.lines:
        problems.add(path.name, None, "", "has no interactions")
    return events


def _event_problem(row: dict[str, Any], items: Mapping[str, Item], tasks: list[str]) -> tuple[str, str] | None:
    """(field, message) of the first thing wrong with one interaction, or None."""
    if not _is_id(row["member_id"]):
        return "member_id", f"{row['member_id']!r} must be a non-empty string"
    if not _is_id(row["item_id"]):
        return "item_id", f"{row['item_id']!r} must be a non-empty string"
    if row["item_id"] not in items:
        return "item_id", f"{row['item_id']!r} is not in {ITEMS_FILE}"
    if not _is_int(row["timestamp"]) or row["timestamp"] < 0:
        return "timestamp", f"{row['timestamp']!r} must be a non-negative integer (Unix seconds)"
    if not isinstance(row["action"], str) or not row["action"].strip():
        return "action", "must be a non-empty string (the text shown in a history line)"
    labels = row["labels"]
    if not isinstance(labels, dict):
        return "labels", f"must be an object {{task: 0 or 1}} for the tasks {tasks}"
    for task in tasks:
        if task not in labels:
            return f"labels.{task}", f"missing (every interaction labels every task in {SPEC_FILE}: {tasks})"
        if labels[task] not in (0, 1) or isinstance(labels[task], bool | float):
            return f"labels.{task}", f"{labels[task]!r} must be 0 or 1"
    extra = sorted(set(labels) - set(tasks))
    if extra:
        return f"labels.{extra[0]}", f"not a task of {SPEC_FILE} (its tasks: {tasks})"
    return None


def read_profiles(path: Path, problems: Problems) -> dict[str, list[ProfileSnapshot]]:
    """members.jsonl -> {member_id: [ProfileSnapshot]}; a profile is text or an object of scalar fields."""
    out: dict[str, list[ProfileSnapshot]] = {}
    for number, row in jsonl_rows(path, problems, {"member_id": True, "profile": True, "as_of": False}):
        profile, as_of = row["profile"], row.get("as_of")
        if not _is_id(row["member_id"]):
            problems.add(path.name, number, "member_id", f"{row['member_id']!r} must be a non-empty string")
        elif not _is_profile(profile):
            problems.add(path.name, number, "profile", "must be a string or an object of string/number values")
        elif as_of is not None and not _is_int(as_of):
            problems.add(path.name, number, "as_of", f"{as_of!r} must be an integer (Unix seconds) or absent")
        else:
            out.setdefault(row["member_id"], []).append(ProfileSnapshot(profile, as_of))
    return out


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_profile(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str | int | float) and not isinstance(v, bool) for k, v in value.items()
    )
