"""A small synthetic job-applications dataset in the project's format: nothing about movies, its own task."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FIELDS = ("data", "design", "sales", "nursing", "teaching")
CITIES = ("Berlin", "Lyon", "Porto", "Oslo")
LEVELS = ("junior", "senior", "lead")
APPLY_TASK = {
    "name": "apply",
    "instruction": "Task: predict whether the member applies to the job posting.",
    "question": "Will the member apply?",
    "labels": [" Yes", " No"],
}


def write_jobs_dataset(out: Path, num_members: int = 12, per_member: int = 12, seed: int = 0) -> Path:
    """items.jsonl (postings), interactions.jsonl (viewed/saved, label apply), members.jsonl, dataset.json."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    items = [
        {"item_id": f"job-{i}", "text": f"{LEVELS[i % 3]} {FIELDS[i % 5]} role | {CITIES[i % 4]}"} for i in range(40)
    ]
    interactions, members = [], []
    for m in range(num_members):
        field = FIELDS[m % len(FIELDS)]
        t = 1_700_000_000 + int(rng.integers(0, 86_400))
        members.append({"member_id": f"cand-{m}", "profile": {"headline": f"{field} professional", "years": 2}})
        members.append(
            {"member_id": f"cand-{m}", "profile": {"headline": f"{field} professional", "years": 3}, "as_of": t + 5000}
        )
        for j in rng.choice(len(items), size=per_member, replace=False):
            t += int(rng.integers(60, 3600))
            matches = FIELDS[int(j) % 5] == field
            applied = int(rng.random() < (0.85 if matches else 0.1))
            action = "saved" if rng.random() < 0.3 else "viewed"
            row = {"member_id": f"cand-{m}", "item_id": f"job-{j}", "timestamp": t, "action": action}
            interactions.append({**row, "labels": {"apply": applied}})
    spec = {"name": "synthetic-jobs", "licence": "synthetic test data, CC0", "tasks": [APPLY_TASK]}
    (out / "dataset.json").write_text(json.dumps(spec, indent=1))
    for name, rows in (("items", items), ("interactions", interactions), ("members", members)):
        (out / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return out
