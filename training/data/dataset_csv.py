"""CSV equivalents of the dataset's JSONL files: one row per record, labels as `labels.<task>` columns.

Values are converted to what the JSONL would hold (integer timestamps, 0/1 labels, a profile object when the
cell is a JSON object); anything that does not convert is passed through so the validator names it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LABEL_PREFIX = "labels."
INTEGER_FIELDS = ("timestamp", "as_of")


def csv_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) of every row after the header."""
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        for row in reader:
            yield reader.line_num, record(row)


def record(row: dict[str, str]) -> dict[str, Any]:
    """One CSV row as the JSONL object it stands for."""
    out: dict[str, Any] = {}
    labels: dict[str, Any] = {}
    for key, value in row.items():
        if key is None:
            out["(extra cells)"] = value
        elif key.startswith(LABEL_PREFIX):
            labels[key[len(LABEL_PREFIX) :]] = int(value) if value in ("0", "1") else value
        elif key in INTEGER_FIELDS:
            if value != "":
                out[key] = _integer(value)
        elif key == "profile":
            out[key] = _profile(value)
        else:
            out[key] = value
    if labels:
        out["labels"] = labels
    return out


def _integer(value: str) -> int | str:
    text = value.strip()
    return int(text) if text.lstrip("-").isdigit() else value


def _profile(value: str) -> Any:
    if value.lstrip().startswith("{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value
