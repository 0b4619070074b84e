"""`slmrank compare`: any two score files of `slmrank evaluate`, paired over members; mismatches in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from slmrank.cli import main
from training.data.split import ChronologicalSplit
from training.evaluation.bootstrap import paired_member_auc_delta
from training.evaluation.evaluation_table import baseline_results
from training.evaluation.evaluator import load_task_scores


@pytest.fixture(scope="module")
def scores(split: ChronologicalSplit, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("scores")
    results = baseline_results(split, ["like", "love"], "test", out)
    (out / "val").mkdir()
    baseline_results(split, ["like"], "val", out / "val")
    return {name: Path(r["scores"]) for name, r in results.items()} | {"val": next((out / "val").glob("pop*"))}


def test_it_prints_the_paired_deltas_of_the_two_files(scores: dict[str, Path], capsys) -> None:
    ref, cand = scores["popularity"], scores["user+item bias"]
    assert main(["compare", str(ref), str(cand), "--resamples", "200"]) == 0
    out = capsys.readouterr().out
    want = paired_member_auc_delta(load_task_scores(ref), load_task_scores(cand), 200)
    assert f"per-member AUC: {want.delta_pct:+.2f} [{want.low_pct:+.2f}, {want.high_pct:+.2f}]" in out
    assert main(["compare", str(ref), str(ref), "--resamples", "50"]) == 0
    assert "global AUC: +0.00 [+0.00, +0.00]" in capsys.readouterr().out


def test_files_of_other_candidates_are_refused_in_one_line(scores: dict[str, Path], capsys) -> None:
    assert main(["compare", str(scores["popularity"]), str(scores["val"])]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "differ" in err
    assert main(["compare", str(scores["popularity"]), "/nonexistent.scores.npz"]) == 2
