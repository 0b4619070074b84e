"""The chunked sequence term (the (positions, V) logits never built at once) against the plain loss path."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.tolerances import TOLERANCE
from tests.training.test_trainer_scale import max_param_diff, parts, trained  # noqa: F401 - the fixture
from training.chunked_sequence import chunked_mean, cross_entropy_chunks


@pytest.mark.parametrize("kd", [False, True])
@pytest.mark.parametrize("per_row", [0, 8])
def test_chunked_steps_equal_the_plain_steps(parts, tmp_path: Path, kd: bool, per_row: int) -> None:  # noqa: F811
    plain, plain_losses = trained(parts, tmp_path / "a", kd, sequence_positions_per_row=per_row)
    chunked, losses = trained(parts, tmp_path / "b", kd, sequence_positions_per_row=per_row, sequence_chunk_rows=7)
    assert losses == pytest.approx(plain_losses, abs=TOLERANCE["float32"])
    assert max_param_diff(plain, chunked) < TOLERANCE["float32"]


def test_chunked_mean_gradients_match_the_full_logits() -> None:
    torch.manual_seed(0)
    head = torch.nn.Linear(16, 40, bias=False)
    hidden = torch.randn(23, 16, requires_grad=True)
    targets = torch.randint(0, 40, (23,))
    reference = torch.nn.functional.cross_entropy(head(hidden), targets)
    (ref_grad,) = torch.autograd.grad(reference, hidden)
    chunked = chunked_mean(head, hidden, cross_entropy_chunks(targets), chunk_rows=5)
    (grad,) = torch.autograd.grad(chunked, hidden)
    assert torch.allclose(chunked, reference, atol=1e-6)
    assert torch.allclose(grad, ref_grad, atol=1e-6)
