"""Reports: JSON round trip, the Markdown table with counts and P99 flags, PNG plots, merging."""

from __future__ import annotations

import json
from pathlib import Path

from loadtest.report import Report
from loadtest.request_record import RequestRecord
from loadtest.run_summary import RunSummary


def run_data(label: str, n: int, rate: float = 1.0, repeat: float = 0.0) -> dict:
    records = [
        RequestRecord(
            i,
            False,
            repeat > 0,
            8,
            i / rate,
            i / rate,
            i / rate + 0.05 + i * 1e-4,
            True,
            prompt_tokens=8 * 500,
            cached_tokens=1000,
        )
        for i in range(n)
    ]
    meta = {
        "label": label,
        "model": "m",
        "schedule": {"rate": rate},
        "workload": {"k": 8, "repeat_fraction": repeat, "context_tokens": 512},
    }
    summary = RunSummary.from_records(records, 1000.0, meta)
    summary.data["latencies_ms"] = summary.latencies_ms()
    return summary.data


def test_write_json_markdown_and_plots(tmp_path: Path) -> None:
    report = Report("unit", commands=["slmrank loadtest run --k 8"])
    report.runs += [run_data("k=8 cold", 50), run_data("k=8 hot", 1200, repeat=0.9)]
    sweep_runs = [run_data(f"{r}/s", 20, rate=r) for r in (1.0, 2.0)]
    for r in sweep_runs:
        r["meets_slo"] = True
    report.sweeps.append(
        {
            "label": "s",
            "slo_ms": 500.0,
            "slo_percentile": 99.0,
            "max_error_fraction": 0.01,
            "best_rate": 2.0,
            "runs": sweep_runs,
        }
    )
    paths = report.write(tmp_path / "lt")
    names = sorted(p.name for p in paths)
    assert names == ["lt-cdf.png", "lt-sweep1.png", "lt.json", "lt.md"]
    for p in paths:
        assert p.stat().st_size > 0
    assert (tmp_path / "lt-cdf.png").read_bytes()[:4] == b"\x89PNG"
    md = (tmp_path / "lt.md").read_text()
    assert "slmrank loadtest run --k 8" in md
    cold_row = next(line for line in md.splitlines() if line.startswith("| k=8 cold"))
    hot_row = next(line for line in md.splitlines() if line.startswith("| k=8 hot"))
    assert "| 50 |" in cold_row and "*" in cold_row  # N beside the percentiles; P99 from < 1,000 flagged
    assert "| 1200 |" in hot_row and "*" not in hot_row
    assert "512 / 500" in cold_row and "25%" in cold_row
    assert "Highest offered rate meeting it: **2 members/s**" in md
    data = json.loads((tmp_path / "lt.json").read_text())
    assert data["runs"][0]["ttft_ms"]["count"] == 50


def test_merge_keeps_runs_sweeps_and_commands(tmp_path: Path) -> None:
    a, b = Report("a", ["cmd a"]), Report("b", ["cmd b"])
    a.notes.append("server: tiny")
    a.runs.append(run_data("x", 10))
    b.runs.append(run_data("y", 10))
    a.write(tmp_path / "a")
    b.write(tmp_path / "b")
    merged = Report.merge([tmp_path / "a.json", tmp_path / "b.json"], "both")
    assert merged.commands == ["cmd a", "cmd b"]
    assert merged.notes == ["server: tiny"]
    assert [r["label"] for r in merged.runs] == ["x", "y"]
