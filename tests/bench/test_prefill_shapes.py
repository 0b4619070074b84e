"""bench/prefill_shapes.py and bench/gpu/run.sh, dry-run on CPU: the GPU run's plumbing, its baselines against the
engine, and the floor's FLOP count against the model it describes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from compute_floor import SHAPES, random_decoder  # noqa: E402
from fp8_weights import to_fp8_weights  # noqa: E402
from prefill_baselines import full_prompt_scores, prefix_reuse_scores  # noqa: E402
from prefill_shapes import main, make_prompt, parse_args  # noqa: E402

from tests.tolerances import TOLERANCE  # noqa: E402


def test_linear_flops_count_every_decoder_weight() -> None:
    shape = SHAPES["tiny"]
    model = random_decoder(shape, torch.device("cpu"), torch.float32)
    linear = sum(m.weight.numel() for n, m in model.model.layers.named_modules() if isinstance(m, torch.nn.Linear))
    assert shape.linear_params() == linear


def test_prefix_reuse_in_chunks_equals_full_prompts() -> None:
    model = random_decoder(SHAPES["tiny"], torch.device("cpu"), torch.float32)
    batch = make_prompt(torch.Generator().manual_seed(1), 512, prefix_len=50, suffix_len=7, k=5)
    full = torch.tensor(full_prompt_scores(model, batch))
    # a KV budget of one row forces one candidate per chunk; a large one puts all five in one forward
    for budget in (1.0, 1e9):
        reuse = torch.tensor(prefix_reuse_scores(model, batch, budget))
        torch.testing.assert_close(reuse, full, rtol=0, atol=TOLERANCE["float32"])


def test_fp8_weights_stay_close_to_dense() -> None:
    model = random_decoder(SHAPES["tiny"], torch.device("cpu"), torch.float32)
    batch = make_prompt(torch.Generator().manual_seed(2), 512, prefix_len=30, suffix_len=5, k=3)
    dense = torch.tensor(full_prompt_scores(model, batch))
    assert to_fp8_weights(model) == 7 * SHAPES["tiny"].num_layers
    fp8 = torch.tensor(full_prompt_scores(model, batch))
    assert 0 < (fp8 - dense).abs().max() < 0.1


def test_dry_run_agrees_with_its_baselines(tmp_path: Path) -> None:
    result = asyncio.run(main(parse_args(["--cpu-dry-run", "--out-dir", str(tmp_path), "--name", "dry"])))
    rows = result["rows"]
    assert {(r["prefix_len"], r["k"]) for r in rows} == {(64, 1), (64, 4), (256, 1), (256, 4)}
    assert len(rows) == 24 and sum("skipped" in r for r in rows) == 8
    for row in (r for r in rows if "skipped" not in r):
        assert row["max_abs_log_odds_diff_vs_b"] <= TOLERANCE["float32"], row
        assert row["floor_ms"] > 0 and row["p50_over_floor"] > 0
    hot = [r for r in rows if r["mode"] == "(d) engine, hot"]
    cold = [r for r in rows if r["mode"] == "(d) engine, cold"]
    assert all(h["floor_ms"] < c["floor_ms"] for h, c in zip(hot, cold, strict=True))
    assert (tmp_path / "dry.md").read_text().count("| 256 | 4 |") == 6


def test_gpu_script_dry_run_writes_both_tables(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable, "RESULTS_DIR": str(tmp_path), "NAME": "dry"}
    run = subprocess.run(
        ["bash", "bench/gpu/run.sh", "--cpu-dry-run"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-2000:]
    for name in ("dry", "dry-fp8"):
        data = json.loads((tmp_path / f"{name}.json").read_text())
        assert len(data["rows"]) == 24


def test_scaling_dry_run_measures_the_cache_it_models(tmp_path: Path) -> None:
    from engine_scaling import main as scaling_main
    from engine_scaling import parse_args as scaling_args

    result = asyncio.run(scaling_main(scaling_args(["--cpu-dry-run", "--out-dir", str(tmp_path), "--name", "s"])))
    kv, zipf = result["kv"], result["zipf"]
    assert kv["bytes"] == kv["computed_bytes"]
    # the engine evicts least-recently-used members: its hit ratio is the simulated LRU's, below Belady's optimum
    assert zipf["engine_hit_ratio"] == zipf["lru_hit_ratio"] <= zipf["belady_hit_ratio"]
    assert 0 < zipf["engine_hit_ratio"] < 1
    assert (tmp_path / "s.png").stat().st_size > 0


def test_reference_policies_on_a_hand_checked_stream() -> None:
    from cache_policies import belady_hits, lru_hits

    stream = [0, 1, 2, 0, 3, 0, 1, 2]
    assert lru_hits(stream, 2) == 1  # only the second request for 0 at index 5 finds it resident
    assert belady_hits(stream, 2) == 2  # keep 0 throughout: hits at 3 and 5


@pytest.mark.vllm
def test_dry_run_with_a_real_vllm_server_agrees(tmp_path: Path) -> None:
    if not (ROOT / ".venv-vllm" / "bin" / "python").exists():
        pytest.skip(".venv-vllm missing (make vllm-venv)")
    argv = ["--cpu-dry-run", "--vllm", "--out-dir", str(tmp_path), "--name", "v"]
    rows = asyncio.run(main(parse_args(argv)))["rows"]
    vllm_rows = [r for r in rows if r["mode"].startswith("(c)")]
    assert len(vllm_rows) == 8 and not any("skipped" in r for r in vllm_rows)
    assert all(r["max_abs_log_odds_diff_vs_b"] <= 1e-4 for r in vllm_rows), vllm_rows
    assert all(r["cpu_s_per_request"] > 0 for r in vllm_rows)  # the server's own CPU time is counted
