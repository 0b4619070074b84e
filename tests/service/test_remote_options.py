"""Every remote-backend option is reachable from the environment, a models file and the CLI, and reaches the
scorer the service builds; misspelt keys are refused by name."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from ranking.backends.remote_scorer import PrefixWarmup
from ranking.backends.sglang_scorer import SGLangApi
from service.engine_factory import build_ranker
from service.models_config import ModelsConfig
from service.remote_options import option_rows, parse_assignments
from service.settings import Settings
from tests.live_server import ROOT

URL = "http://127.0.0.1:9"


def test_environment_reaches_every_section(monkeypatch) -> None:
    monkeypatch.setenv("SLMRANK_REMOTE__SGLANG__API", "score")
    monkeypatch.setenv("SLMRANK_REMOTE__SGLANG__WARMUP", "always")
    monkeypatch.setenv("SLMRANK_REMOTE__BREAKER__OPEN_S", "7.5")
    monkeypatch.setenv("SLMRANK_REMOTE__HEALTH__INTERVAL_S", "0.5")
    remote = Settings().remote
    assert remote.sglang.api is SGLangApi.SCORE and remote.sglang.warmup is PrefixWarmup.ALWAYS
    assert remote.breaker.open_s == 7.5 and remote.health.interval_s == 0.5
    assert remote.vllm.is_split_prompts is False  # untouched sections keep their defaults


def test_cli_assignments_merge_with_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("SLMRANK_REMOTE__BREAKER__OPEN_S", "7.5")
    remote = Settings(remote=parse_assignments(["vllm.is_split_prompts=true", "routing.max_attempts=3"])).remote
    assert remote.vllm.is_split_prompts and remote.routing.max_attempts == 3 and remote.breaker.open_s == 7.5


@pytest.mark.parametrize("bad", ["sglang.api", "api=score", "a.b.c=1", ".x=1"])
def test_malformed_cli_assignment(bad: str) -> None:
    with pytest.raises(ValueError, match=r"SECTION\.FIELD=VALUE"):
        parse_assignments([bad])


@pytest.mark.parametrize(
    ("remote", "needle"),
    [
        ({"sglang": {"appi": "score"}}, "remote.sglang.appi"),
        ({"breakers": {}}, "remote.breakers"),
        ({"breaker": {"open_s": -1}}, "open_s"),
        ({"vllm": {"api": "chat"}}, "api"),
    ],
)
def test_bad_options_are_named(remote: dict, needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        Settings(remote=remote)


def test_a_model_of_the_models_file_has_its_own_options(tiny_model_dir) -> None:
    config = ModelsConfig.model_validate(
        {"models": [{"model_dir": str(tiny_model_dir), "backend": "vllm", "engine_urls": [URL],
                     "remote": {"vllm": {"is_split_prompts": True}, "client": {"max_connections": 3}}}]}
    )  # fmt: skip
    ranker = build_ranker(Settings(device="cpu"), config.models[0])
    replica = ranker.scorer.replica_set.replicas[URL].scorer  # type: ignore[attr-defined]
    assert replica.config.is_split_prompts and replica.client.config.max_connections == 3


def test_the_gateway_options_reach_a_remote_model(tiny_model_dir) -> None:
    settings = Settings(model_dir=tiny_model_dir, backend="sglang", engine_urls=URL,
                        remote={"sglang": {"is_prefill_only": False}, "hashing": {"load_factor": 2.0}})  # fmt: skip
    scorer = build_ranker(settings).scorer
    replica = scorer.replica_set.replicas[URL].scorer  # type: ignore[attr-defined]
    assert replica.config.is_prefill_only is False and replica.config.model_name == "tiny-random-qwen3"
    assert scorer.replica_set.hashing.config.load_factor == 2.0  # type: ignore[attr-defined]


def test_every_option_has_a_help_text() -> None:
    rows = list(option_rows())
    assert len(rows) >= 20 and all(help_text for _, _, help_text in rows)


def test_serve_refuses_a_misspelt_option_in_one_message() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "slmrank", "serve", "--remote", "sglang.appi=score", "--port", "9"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2 and "remote.sglang.appi" in out.stderr and "Traceback" not in out.stderr
