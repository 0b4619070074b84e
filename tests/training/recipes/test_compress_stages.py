"""Stage names: the planner (a CompressionConfig) and the report (its dict in summary.json) build the same ones."""

from __future__ import annotations

from training.recipes.compress_stages import StageNames
from training.recipes.compress_tables import DEMO


def test_config_and_its_dict_name_the_same_stages() -> None:
    planner, report = StageNames.of(DEMO), StageNames.of(DEMO.to_dict())
    assert planner == report
    assert planner.recovered("kd") == "oneshot-mlp30-kd" and planner.oneshot(0.1) == "oneshot-mlp10"
    assert planner.heads() == "heads50" and planner.gradual == "gradual2-mlp30-kd"
    assert planner.quant("w4a16") == "quant-w4a16" and planner.quant("w4a16", planner.gradual).endswith("-kd-w4a16")
    assert StageNames.seed("unpruned-kd", 0) == "unpruned-kd" and StageNames.seed("unpruned-kd", 2).endswith("-seed2")
