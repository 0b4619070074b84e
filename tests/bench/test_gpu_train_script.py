"""bench/gpu_train.sh, prepared on this CPU: its --cpu-dry-run trains through the same worker and writes the
figures the GPU run reports (tokens/s, peak memory, device, MFU where the device's peak is known)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_cpu_dry_run_writes_the_figures(tmp_path: Path) -> None:
    env = {**os.environ, "OUT": str(tmp_path), "WORK": str(tmp_path / "work"), "PYTHON": sys.executable,
           "OMP_NUM_THREADS": "1"}  # fmt: skip
    done = subprocess.run(["bash", str(ROOT / "bench/gpu_train.sh"), "--cpu-dry-run"], env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:] + (tmp_path / "work/stderr.log").read_text()[-2000:]
    result = json.loads((tmp_path / "train-step-gpu-dryrun.json").read_text())
    assert result["precision"] == "bf16" and result["config"] == "smoke" and result["steps"] == 3
    assert result["tokens_per_s"] > 0 and result["peak_mib_per_process"] > 0
    assert result["mfu"] is None  # no known peak FLOP/s for a CPU: not made up
    assert '"tokens_per_s"' in done.stdout
