"""Presets ship with the package, --set overrides are typed, unknown keys are errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.recipes.config_loader import ConfigError, load_config, preset_names


def test_presets_load_from_the_package_not_the_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert {"tiny", "smoke", "demo", "gpu"} <= set(preset_names())
    demo = load_config("demo")
    assert demo.name == "demo" and demo.teacher_train.steps == 1600 and demo.group_size == 12
    assert demo.sft_config.steps == 2 * demo.student_train.steps
    assert demo.prompt.label_rates
    assert load_config("smoke").is_plumbing_check and not demo.is_plumbing_check


def test_overrides_are_typed() -> None:
    cfg = load_config("smoke", ["teacher_train.learning_rate=1", "init.student=prune-teacher", "tasks=['like']"])
    assert cfg.teacher_train.learning_rate == 1.0 and isinstance(cfg.teacher_train.learning_rate, float)
    assert cfg.init.student == "prune-teacher" and cfg.tasks == ("like",)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("teacher.depth=3", "unknown key teacher.depth"),
        ("teacher_train.steps=many", "teacher_train.steps: 'many' must be int"),
        ("nonsense", "expected key=value"),
        ("split.test_fraction=0", "split: SplitConfig fractions"),
    ],
)
def test_bad_overrides_name_the_key(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config("smoke", [override])


def test_file_and_unknown_preset(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\n[student_train]\nsteps = 3\n')
    assert load_config(path).student_train.steps == 3
    with pytest.raises(ConfigError, match="presets"):
        load_config("huge")
    path.write_text('name = "x"\nbogus = 1\n')
    with pytest.raises(ConfigError, match="unknown key bogus"):
        load_config(path)


def test_sft_train_starts_from_student_train(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('name = "m"\n[student_train]\nsteps = 3\nlearning_rate = 0.5\n[sft_train]\nsteps = 7\n')
    cfg = load_config(path)
    assert cfg.student_train.steps == 3 and cfg.sft_config.steps == 7 and cfg.sft_config.learning_rate == 0.5
    smoke = load_config("smoke")
    assert smoke.sft_train is None and smoke.sft_config == smoke.student_train
    over = load_config("smoke", ["sft_train.steps=9", "student_train.warmup_steps=1"])
    assert over.sft_config.steps == 9 and over.sft_config.warmup_steps == 1
    assert over.sft_config.groups_per_step == smoke.student_train.groups_per_step
    with pytest.raises(ConfigError, match=r"unknown key sft_train\.bogus"):
        load_config("smoke", ["sft_train.bogus=1"])
