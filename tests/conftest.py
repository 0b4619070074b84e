"""Shared fixtures: a tiny random checkpoint built once per session, seeds, no hub access."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests must never reach a model hub; set before transformers is imported anywhere.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny Qwen3 checkpoint + tokenizer in a temp dir (built in a few seconds)."""
    from tests.tiny_checkpoint import make_tiny_checkpoint

    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_loaded(tiny_model_dir: Path):
    """The tiny checkpoint loaded in float32 on CPU."""
    import torch

    from ranking.model_loader import load_checkpoint

    torch.set_num_threads(1)
    return load_checkpoint(tiny_model_dir, device="cpu", dtype="float32")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """GPU tests are skipped without CUDA."""
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
