"""Fixtures for compression tests: small random layer problems and a tiny random Qwen3 model."""

from __future__ import annotations

import pytest
import torch

from compression.layer_problem import GroupLayout, LayerProblem


def make_problem(
    seed: int,
    num_groups: int = 8,
    group_size: int = 1,
    num_outputs: int = 5,
    num_partitions: int = 1,
    correlated: bool = False,
    num_tokens: int = 200,
) -> LayerProblem:
    """A random layer: inputs X [N, p] (optionally strongly correlated) and weights B [p, q]."""
    gen = torch.Generator().manual_seed(seed)
    p = num_groups * group_size
    x = torch.randn(num_tokens, p, generator=gen, dtype=torch.float64)
    if correlated:
        # A few shared factors plus per-column scales: the regime where refits and swaps matter.
        mix = torch.randn(p // 2 + 1, p, generator=gen, dtype=torch.float64)
        x = torch.randn(num_tokens, p // 2 + 1, generator=gen, dtype=torch.float64) @ mix + 0.1 * x
        x = x * torch.rand(p, generator=gen, dtype=torch.float64).mul(3).add(0.2)
    weight = torch.randn(p, num_outputs, generator=gen, dtype=torch.float64)
    layout = GroupLayout(num_groups, group_size, num_partitions)
    return LayerProblem(x.T @ x, weight, layout, damp=0.01)


@pytest.fixture
def tiny_qwen3():
    """A random Qwen3 with GQA (4 query heads over 2 KV heads) and head_dim != hidden/heads."""
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    config = Qwen3Config(
        vocab_size=128,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=128,
        tie_word_embeddings=False,
    )
    config._attn_implementation = "eager"
    return Qwen3ForCausalLM(config).eval()


@pytest.fixture
def token_sequences():
    gen = torch.Generator().manual_seed(1)
    return [torch.randint(0, 128, (n,), generator=gen).tolist() for n in (24, 17, 31, 12)]
