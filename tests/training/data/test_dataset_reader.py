"""Bad data is refused with file, line and field; good data loads with its statistics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.data.dataset_reader import DataError, load_dataset
from training.data.dataset_stats import dataset_stats

SPEC = {
    "name": "jobs",
    "licence": "synthetic, CC0",
    "tasks": [{"name": "apply", "instruction": "Will they apply?", "question": "Apply?", "labels": [" Yes", " No"]}],
}


def write(folder: Path, items=None, interactions=None, members=None, spec=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dataset.json").write_text(json.dumps(spec or SPEC))
    items = items if items is not None else [{"item_id": f"j{i}", "text": f"Job {i}"} for i in range(4)]
    if interactions is None:
        interactions = [
            {"member_id": m, "item_id": f"j{i}", "timestamp": 100 * i, "action": "viewed", "labels": {"apply": i % 2}}
            for m in ("a", "b")
            for i in range(4)
        ]
    for name, rows in (("items", items), ("interactions", interactions), ("members", members)):
        if rows is not None:
            (folder / f"{name}.jsonl").write_text(
                "".join(r if isinstance(r, str) else json.dumps(r) + "\n" for r in rows)
            )
    return folder


def test_good_dataset_loads_with_stats(tmp_path: Path) -> None:
    members = [{"member_id": "a", "profile": "likes remote work", "as_of": 150}, {"member_id": "a", "profile": "new"}]
    data = load_dataset(write(tmp_path / "d", members=members))
    assert data.spec.task("apply").positive_label == " Yes"
    assert data.profile_at("a", 100) == "new" and data.profile_at("a", 150) == "likes remote work"
    assert data.profile_at("b", 100) is None
    stats = dataset_stats(data)
    assert stats["num_interactions"] == 8 and stats["tasks"]["apply"]["positives"] == 4
    assert not stats["problems"]


@pytest.mark.parametrize(
    ("row", "where"),
    [
        ({"member_id": "a", "item_id": "nope", "timestamp": 1, "action": "x", "labels": {"apply": 1}}, "item_id"),
        ({"member_id": "a", "item_id": "j1", "timestamp": "1", "action": "x", "labels": {"apply": 1}}, "timestamp"),
        ({"member_id": "a", "item_id": "j1", "timestamp": 1, "action": "x", "labels": {"apply": 2}}, "labels.apply"),
        ({"member_id": "a", "item_id": "j1", "timestamp": 1, "action": "x", "labels": {}}, "labels.apply"),
        (
            {"member_id": "a", "item_id": "j1", "timestamp": 1, "action": "x", "labels": {"apply": 1, "x": 0}},
            "labels.x",
        ),
        ({"member_id": "a", "item_id": "j1", "timestamp": 1, "action": "", "labels": {"apply": 1}}, "action"),
        ({"member_id": "a", "item_id": "j1", "timestamp": 1, "labels": {"apply": 1}}, "action"),
        ({"member_id": "a", "item_id": "j1", "timestamp": 1, "action": "x", "labels": {"apply": 1}, "y": 1}, "y"),
    ],
)
def test_bad_interaction_names_file_line_and_field(tmp_path: Path, row: dict, where: str) -> None:
    good = {"member_id": "a", "item_id": "j0", "timestamp": 0, "action": "viewed", "labels": {"apply": 0}}
    with pytest.raises(DataError, match=rf"interactions\.jsonl:2: {where}: "):
        load_dataset(write(tmp_path / "d", interactions=[good, row]))


def test_bad_json_line_and_duplicate_item(tmp_path: Path) -> None:
    items = [{"item_id": "j0", "text": "Job"}, "{not json\n", {"item_id": "j0", "text": "again"}]
    with pytest.raises(DataError) as info:
        load_dataset(write(tmp_path / "d", items=items))
    assert "items.jsonl:2: not valid JSON" in str(info.value)
    assert "items.jsonl:3: item_id: 'j0' appears twice" in str(info.value)


def test_bad_profile_and_spec(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"members\.jsonl:1: as_of: "):
        load_dataset(write(tmp_path / "a", members=[{"member_id": "a", "profile": "x", "as_of": "yesterday"}]))
    bad_spec = {**SPEC, "tasks": [{"name": "apply", "instruction": "i", "question": "q", "labels": [" Yes"]}]}
    with pytest.raises(DataError, match=r"dataset\.json: tasks\[0\]\.labels"):
        load_dataset(write(tmp_path / "b", spec=bad_spec))
    with pytest.raises(DataError, match=r"interactions\.jsonl: missing"):
        (write(tmp_path / "c") / "interactions.jsonl").unlink()
        load_dataset(tmp_path / "c")


def test_one_class_task_is_a_problem(tmp_path: Path) -> None:
    rows = [
        {"member_id": "a", "item_id": f"j{i}", "timestamp": i, "action": "viewed", "labels": {"apply": 0}}
        for i in range(4)
    ]
    assert "AUC needs both" in dataset_stats(load_dataset(write(tmp_path / "d", interactions=rows)))["problems"][0]


def as_csv(jsonl: Path, out: Path) -> None:
    """A JSONL table as CSV: nested labels become `labels.<task>` columns, a profile object a JSON cell."""
    import csv

    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    flat = []
    for r in rows:
        row = {k: v for k, v in r.items() if k != "labels"}
        row.update({f"labels.{t}": y for t, y in r.get("labels", {}).items()})
        if isinstance(row.get("profile"), dict):
            row["profile"] = json.dumps(row["profile"])
        flat.append(row)
    columns = list(dict.fromkeys(k for row in flat for k in row))
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(flat)


def test_csv_equivalents_load_the_same_dataset(tmp_path: Path) -> None:
    from tests.training.jobs_dataset import write_jobs_dataset

    jsonl = write_jobs_dataset(tmp_path / "jsonl")
    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    (csv_dir / "dataset.json").write_text((jsonl / "dataset.json").read_text())
    for name in ("items", "interactions", "members"):
        as_csv(jsonl / f"{name}.jsonl", csv_dir / f"{name}.csv")
    a, b = load_dataset(jsonl), load_dataset(csv_dir)
    assert a.items == b.items and a.profiles == b.profiles
    assert {
        m: [(e.item_id, e.timestamp, e.action, dict(e.labels)) for e in es] for m, es in a.member_events.items()
    } == {m: [(e.item_id, e.timestamp, e.action, dict(e.labels)) for e in es] for m, es in b.member_events.items()}
    lines = (csv_dir / "interactions.csv").read_text().splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0] + ",yes"  # the last column is labels.apply
    (csv_dir / "interactions.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"interactions\.csv:4: labels\.apply: 'yes' must be 0 or 1"):
        load_dataset(csv_dir)
    (csv_dir / "items.jsonl").write_text((jsonl / "items.jsonl").read_text())
    with pytest.raises(DataError, match=r"both items\.jsonl and items\.csv"):
        load_dataset(csv_dir)
