"""The embedded engine on every supported architecture equals the transformers forward (windows and caps included)."""

from __future__ import annotations

import random

import pytest
import torch

from ranking.decoder_layout import UnsupportedArchitectureError
from ranking.engine.model_runner import ForwardItem, ModelRunner
from ranking.model_loader import LoadedModel
from tests.ranking.engine.conftest import TOLERANCE, random_ids
from tests.reference.engine_plain_scorer import plain_label_logprobs
from tests.tiny_architectures import REFUSED, SUPPORTED, WINDOW, tiny_model


def loaded(model_type: str) -> LoadedModel:
    model = tiny_model(model_type)
    return LoadedModel(model, None, model_type, 128, torch.device("cpu"), torch.float32)


@pytest.mark.parametrize("backend", ["sdpa", "sdpa_cascade"])
@pytest.mark.parametrize("model_type", SUPPORTED)
def test_scores_match_transformers(model_type: str, backend: str) -> None:
    """Prefix in two chunks (past the sliding window), three suffixes, full-vocab log-probs."""
    target = loaded(model_type)
    runner = ModelRunner(target, backend)
    rng = random.Random(7)
    prefix = random_ids(rng, 128, 3 * WINDOW)
    suffixes = [random_ids(rng, 128, n) for n in (2, WINDOW + 3, 1)]
    labels = list(range(128))
    first = runner.forward([ForwardItem([], prefix[: WINDOW + 2])])[0]
    out = runner.forward([ForwardItem([first.prefix_kv], prefix[WINDOW + 2 :], suffixes, labels)])[0]
    expected = plain_label_logprobs(target.model, prefix, suffixes, labels)
    torch.testing.assert_close(out.label_logprobs, expected, atol=TOLERANCE["float32"], rtol=0)


@pytest.mark.parametrize("model_type", REFUSED)
def test_unsupported_architecture_is_refused_in_one_line(model_type: str) -> None:
    with pytest.raises(UnsupportedArchitectureError) as error:
        ModelRunner(loaded(model_type))
    message = str(error.value)
    assert "\n" not in message and repr(model_type) in message and "gemma2" in message
