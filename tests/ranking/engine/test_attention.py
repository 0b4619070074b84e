"""Attention masks against their definitions; FlashInfer against SDPA on CUDA."""

from __future__ import annotations

import pytest
import torch

from ranking.engine.attention import CascadeAttention, SdpaAttention, make_attention, prefix_mask, suffix_mask


def test_prefix_mask_is_causal_after_the_past() -> None:
    mask = prefix_mask(3, 2, torch.device("cpu"))
    expected = [[c <= 2 + r for c in range(5)] for r in range(3)]
    assert mask.tolist() == expected


def test_suffix_mask_is_block_diagonal_causal() -> None:
    lens = [2, 1, 3]
    mask = suffix_mask(lens, 4, torch.device("cpu"))
    owner = [0, 0, 1, 2, 2, 2]
    for r in range(6):
        assert mask[r, :4].all()
        for c in range(6):
            assert bool(mask[r, 4 + c]) == (owner[r] == owner[c] and c <= r)


@pytest.mark.parametrize("past_len", [0, 7])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_cascade_equals_one_masked_sdpa(past_len: int, dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    q = torch.randn(4, 19, 16, dtype=dtype)
    k, v = torch.randn(2, past_len + 19, 16, dtype=dtype), torch.randn(2, past_len + 19, 16, dtype=dtype)
    fast, plain = CascadeAttention(), SdpaAttention()
    tol = 1e-5 if dtype == torch.float32 else 2e-2
    for got, want in (
        (fast.prefix(q, k, v, past_len, 0.25), plain.prefix(q, k, v, past_len, 0.25)),
        (fast.suffix(q, k, v, past_len, [5, 1, 13], 0.25), plain.suffix(q, k, v, past_len, [5, 1, 13], 0.25)),
        (fast.suffix(q, k, v, past_len, [19], 0.25), plain.suffix(q, k, v, past_len, [19], 0.25)),
    ):
        assert got.dtype == dtype
        torch.testing.assert_close(got.float(), want.float(), atol=tol, rtol=0)


def test_auto_backend_on_cpu_is_the_cascade() -> None:
    assert isinstance(make_attention("auto", torch.device("cpu")), CascadeAttention)
    assert type(make_attention("sdpa", torch.device("cpu"))) is SdpaAttention
    with pytest.raises(ValueError):
        make_attention("flashinfer", torch.device("cpu"))


@pytest.mark.gpu
def test_flashinfer_matches_sdpa_on_cuda() -> None:
    pytest.importorskip("flashinfer")
    device = torch.device("cuda")
    torch.manual_seed(0)
    q = torch.randn(8, 40, 64, device=device, dtype=torch.bfloat16)
    k = torch.randn(2, 100, 64, device=device, dtype=torch.bfloat16)
    v = torch.randn_like(k)
    fast, plain = make_attention("flashinfer", device), SdpaAttention()
    lens = [10, 20, 10]
    got = fast.suffix(q, k, v, 60, lens, 0.125)
    torch.testing.assert_close(got, plain.suffix(q, k, v, 60, lens, 0.125), atol=2e-2, rtol=2e-2)
    got = fast.prefix(q, k[:, :70], v[:, :70], 30, 0.125)
    torch.testing.assert_close(got, plain.prefix(q, k[:, :70], v[:, :70], 30, 0.125), atol=2e-2, rtol=2e-2)
