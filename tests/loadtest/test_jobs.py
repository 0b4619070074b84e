"""`run` and `sweep` end to end against the real service on 127.0.0.1 with the tiny model (bounded, ~1 min)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_server import live_server

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def service_url(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m slmrank serve` on a free port with the tiny model, until /readyz says ready."""
    with live_server(tiny_model_dir, tmp_path_factory.mktemp("serve") / "serve.log") as url:
        yield url


def loadtest(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loadtest", *args, "--no-progress"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_run_grid_against_the_service(service_url: str, tmp_path: Path) -> None:
    out = loadtest(
        "run",
        "--url",
        service_url,
        "--k",
        "1,4",
        "--repeat-fraction",
        "0,0.8",
        "--context-tokens",
        "256",
        "--rate",
        "8",
        "--num-requests",
        "12",
        "--warmup",
        "2",
        "--out",
        str(tmp_path / "grid"),
    )
    assert out.returncode == 0, out.stderr
    data = json.loads((tmp_path / "grid.json").read_text())
    assert [r["label"] for r in data["runs"]] == [
        "k=1 cold ctx=256",
        "k=1 hot ctx=256",
        "k=4 cold ctx=256",
        "k=4 hot ctx=256",
    ]
    for run in data["runs"]:
        assert run["requests"]["measured"] == 12 and run["errors"] == {}, run["errors"]
        assert run["ttft_ms"]["count"] == 12 and run["ttft_ms"]["p99_is_indicative"]
        assert run["model"] == data["meta"]["model"] and run["model"]
        # The probe calibrated chars/token, so one prompt lands near the target (history cut to whole lines).
        assert 0.6 * 256 <= run["tokens"]["context_per_prompt"] <= 1.3 * 256
    hot = data["runs"][1]
    assert hot["requests"]["repeat_members"] > 0 and data["runs"][0]["requests"]["repeat_members"] == 0
    md = (tmp_path / "grid.md").read_text()
    assert "python -m loadtest run" in md and "| k=4 hot ctx=256 |" in md
    assert (tmp_path / "grid-cdf.png").exists()


def test_sweep_against_the_service(service_url: str, tmp_path: Path) -> None:
    out = loadtest(
        "sweep",
        "--url",
        service_url,
        "--k",
        "2",
        "--context-tokens",
        "128",
        "--rates",
        "4,8",
        "--num-requests",
        "10",
        "--warmup",
        "1",
        "--slo-ms",
        "60000",
        "--out",
        str(tmp_path / "sweep"),
    )
    assert out.returncode == 0, out.stderr
    sweep = json.loads((tmp_path / "sweep.json").read_text())["sweeps"][0]
    assert [r["schedule"]["rate"] for r in sweep["runs"]] == [4.0, 8.0]
    assert sweep["best_rate"] == 8.0
    assert (tmp_path / "sweep-sweep1.png").exists()
