"""Attention masks against their definitions; FlashInfer against SDPA on CUDA."""

from __future__ import annotations

import itertools

import pytest
import torch

from ranking.engine.attention import (
    CascadeAttention,
    KeyValues,
    SdpaAttention,
    make_attention,
    prefix_mask,
    suffix_mask,
)


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
    kv = KeyValues.of(k, v)
    fast, plain = CascadeAttention(), SdpaAttention()
    tol = 1e-5 if dtype == torch.float32 else 2e-2
    for got, want in (
        (fast.prefix(q, kv, past_len, 0.25), plain.prefix(q, kv, past_len, 0.25)),
        (fast.suffix(q, kv, past_len, [5, 1, 13], 0.25), plain.suffix(q, kv, past_len, [5, 1, 13], 0.25)),
        (fast.suffix(q, kv, past_len, [19], 0.25), plain.suffix(q, kv, past_len, [19], 0.25)),
    ):
        assert got.dtype == dtype
        torch.testing.assert_close(got.float(), want.float(), atol=tol, rtol=0)


@pytest.mark.parametrize("cuts", [(3,), (3, 9), (1, 2, 12)])
def test_keys_in_parts_read_in_place_equal_one_tensor(cuts: tuple[int, ...]) -> None:
    """The radix cache hands a layer's KV over as one part per segment; attention over the parts (each read where
    it lies, merged by log-sum-exp) equals attention over the concatenated tensor, for both passes."""
    torch.manual_seed(1)
    q = torch.randn(4, 19, 16)
    k, v = torch.randn(2, 14 + 19, 16), torch.randn(2, 14 + 19, 16)
    bounds = [0, *cuts, 14, 33]
    parts = KeyValues(tuple((k[:, a:b], v[:, a:b]) for a, b in itertools.pairwise(bounds)))
    assert len(parts) == 33 and torch.equal(parts.whole()[0], k)
    head, tail = parts.split(14)
    assert (len(head), len(tail)) == (14, 19) and torch.equal(tail.whole()[1], v[:, 14:])
    whole, fast = KeyValues.of(k, v), CascadeAttention()
    for kernel in (fast, SdpaAttention()):
        got = kernel.prefix(q, parts, 14, 0.25)
        torch.testing.assert_close(got, SdpaAttention().prefix(q, whole, 14, 0.25), atol=1e-5, rtol=0)
        got = kernel.suffix(q, parts, 14, [5, 1, 13], 0.25)
        torch.testing.assert_close(got, SdpaAttention().suffix(q, whole, 14, [5, 1, 13], 0.25), atol=1e-5, rtol=0)


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
    kv, head = KeyValues.of(k, v), KeyValues.of(k[:, :70], v[:, :70])
    got = fast.suffix(q, kv, 60, lens, 0.125)
    torch.testing.assert_close(got, plain.suffix(q, kv, 60, lens, 0.125), atol=2e-2, rtol=2e-2)
    got = fast.prefix(q, head, 30, 0.125)
    torch.testing.assert_close(got, plain.prefix(q, head, 30, 0.125), atol=2e-2, rtol=2e-2)
