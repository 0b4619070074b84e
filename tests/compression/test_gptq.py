"""GPTQ against plain round-to-nearest on random and correlated layer problems."""

from __future__ import annotations

import pytest
import torch

from compression.gptq import GptqConfig, dequantize_levels, gptq_quantize, layer_error
from tests.reference.compression_rtn import rtn_quantize


def _layer(seed: int, out: int = 12, num_in: int = 32, correlated: bool = True):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(256, num_in, generator=gen, dtype=torch.float64)
    if correlated:
        x = x @ torch.randn(num_in, num_in, generator=gen, dtype=torch.float64) + 0.5 * x
    return torch.randn(out, num_in, generator=gen, dtype=torch.float64), x.T @ x


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("bits", "group"), [(4, 8), (4, None), (8, None), (3, 16)])
def test_gptq_error_not_worse_than_rtn(seed, bits, group):
    weight, gram = _layer(seed)
    levels, scales = gptq_quantize(weight, gram, GptqConfig(num_bits=bits, group_size=group, block_size=16))
    gptq_err = layer_error(weight, dequantize_levels(levels, scales), gram)
    rtn_err = layer_error(weight, rtn_quantize(weight, bits, group), gram)
    assert gptq_err <= rtn_err


def test_levels_on_grid_and_shapes():
    weight, gram = _layer(5)
    levels, scales = gptq_quantize(weight, gram, GptqConfig(num_bits=4, group_size=8, block_size=16))
    assert levels.dtype == torch.int8 and levels.shape == weight.shape
    assert scales.shape == (12, 4)
    assert int(levels.min()) >= -8 and int(levels.max()) <= 7


def test_identity_gram_equals_rtn_with_same_scales():
    """With H = I there is nothing to compensate: GPTQ is round-to-nearest (per-row scales)."""
    weight, _ = _layer(6)
    levels, scales = gptq_quantize(
        weight, torch.eye(32, dtype=torch.float64), GptqConfig(num_bits=4, group_size=None, damp=0.0, block_size=8)
    )
    torch.testing.assert_close(
        dequantize_levels(levels, scales), rtn_quantize(weight, 4, None).double(), rtol=1e-6, atol=1e-6
    )


def test_dead_inputs_and_bad_group():
    weight, gram = _layer(7)
    gram[3, :] = 0.0
    gram[:, 3] = 0.0
    levels, _ = gptq_quantize(weight, gram, GptqConfig(num_bits=4, group_size=None, block_size=16))
    assert (levels[:, 3] == 0).all()
    with pytest.raises(ValueError, match="multiple of group_size"):
        gptq_quantize(weight[:, :30], gram[:30, :30], GptqConfig(group_size=8, block_size=16))
