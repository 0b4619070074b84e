"""The models configuration: TOML file, inline JSON, the single-model default, and errors that name the problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from service.gateway import Gateway, ServedModel
from service.models_config import ModelsConfig
from service.settings import Settings

TOML = """
salt = "exp-1"
[[models]]
name = "control"
model_dir = "models/default"
weight = 90
[[models]]
name = "pruned"
model_dir = "runs/pruned"
backend = "vllm"
engine_urls = ["http://vllm-0:8000"]
weight = 10
[shadow]
model = "pruned"
fraction = 0.5
"""


def test_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(TOML)
    config = Settings(models_file=path).models_config()
    assert [(m.name, m.backend, m.weight) for m in config.models] == [
        ("control", "embedded", 90),
        ("pruned", "vllm", 10),
    ]
    assert config.shadow is not None and config.shadow.fraction == 0.5 and config.salt == "exp-1"
    assert config.policy(["control", "pruned"]).shares() == {"control": 0.9, "pruned": 0.1}


def test_inline_json_and_the_single_model_default() -> None:
    inline = Settings(models='{"models": [{"model_dir": "a"}, {"model_dir": "b", "weight": 3}]}').models_config()
    assert [m.weight for m in inline.models] == [1.0, 3.0]
    single = Settings(model_dir=Path("models/default")).models_config()
    assert len(single.models) == 1 and single.models[0].model_dir == Path("models/default")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"models": []}', "at least 1"),
        ('{"models": [{"model_dir": "a", "weight": 0}]}', "weight > 0"),
        ('{"models": [{"model_dir": "a", "backend": "sglang"}]}', "engine_urls"),
        ('{"models": [{"model_dir": "a", "colour": "red"}]}', "colour"),
        ('{"models": [{"model_dir": "a"}], "shadow": {"model": "b", "fraction": 2}}', "fraction"),
    ],
)
def test_bad_configurations_name_the_problem(text: str, needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        ModelsConfig.model_validate_json(text)


def test_file_and_inline_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not both"):
        Settings(models_file=tmp_path / "m.json", models='{"models": []}')


def test_gateway_refuses_duplicate_names_and_an_unknown_shadow(tmp_path: Path) -> None:
    config = ModelsConfig.model_validate({"models": [{"model_dir": "a"}, {"model_dir": "b"}]})
    fake = [ServedModel("same", config.models[0], None), ServedModel("same", config.models[1], None)]  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unique"):
        Gateway(fake, config, None)  # type: ignore[arg-type]
    shadowed = ModelsConfig.model_validate({"models": [{"model_dir": "a"}], "shadow": {"model": "nope"}})
    with pytest.raises(ValueError, match=r"shadow\.model 'nope'"):
        Gateway([ServedModel("a", shadowed.models[0], None)], shadowed, None)  # type: ignore[arg-type]
