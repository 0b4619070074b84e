"""Random decoders of real layer shapes and the physical floor of their work: FLOPs of the computed tokens divided by
this machine's measured matmul rate. Used by bench/prefill_shapes.py (CPU and GPU alike)."""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn


@dataclass(frozen=True)
class DecoderShape:
    """A Qwen3-style decoder: the widths that set its cost per token."""

    name: str
    hidden: int
    intermediate: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int

    @classmethod
    def of(cls, config) -> DecoderShape:
        """The shape of a transformers decoder config (a checkpoint's own)."""
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        return cls(
            config.model_type, config.hidden_size, config.intermediate_size, config.num_hidden_layers,
            config.num_attention_heads, config.num_key_value_heads, head_dim, config.vocab_size,
        )  # fmt: skip

    def linear_params(self) -> int:
        """Weights multiplied once per computed token, per layer summed (attention projections + gated MLP)."""
        q_out, kv_out = self.num_heads * self.head_dim, self.num_kv_heads * self.head_dim
        attn = self.hidden * (q_out + 2 * kv_out) + q_out * self.hidden
        mlp = 3 * self.hidden * self.intermediate
        return self.num_layers * (attn + mlp)

    def token_flops(self, context_len: int) -> float:
        """FLOPs of one token attending to `context_len` positions (itself included): linears + QK^T + AV."""
        attention = 4 * self.num_layers * self.num_heads * self.head_dim * context_len
        return 2 * self.linear_params() + attention

    def span_flops(self, start: int, num_tokens: int) -> float:
        """FLOPs of `num_tokens` computed tokens whose first sits after `start` cached positions."""
        # token_flops is linear in the context, so the mean context gives the exact sum.
        mean_context = start + (num_tokens + 1) / 2
        return num_tokens * (
            2 * self.linear_params() + 4 * self.num_layers * self.num_heads * self.head_dim * mean_context
        )

    def request_flops(self, prefix_len: int, suffix_len: int, k: int, prefix_cached: bool) -> float:
        """What one request must compute: the prefix (unless cached), k suffixes over it, k rows of the LM head."""
        prefix = 0.0 if prefix_cached else self.span_flops(0, prefix_len)
        return prefix + k * self.span_flops(prefix_len, suffix_len) + k * 2 * self.hidden * self.vocab_size


SHAPES = {
    # The tests' dry-run shape: seconds on one CPU core.
    "tiny": DecoderShape("tiny", 128, 256, 2, 4, 2, 32, 512),  # head_dim 32: the smallest vLLM CPU attention takes
    # Qwen3-0.6B's layer (hidden 1024, MLP 3072, 16 query / 8 KV heads, head_dim 128), 2 layers to fit CPU minutes.
    "qwen3-0.6b-layer": DecoderShape("qwen3-0.6b-layer", 1024, 3072, 2, 16, 8, 128, 151936),
    # The paper's ~2.1B student class: Qwen3-1.7B's widths with untied embeddings (2.03B parameters).
    "2.1b": DecoderShape("2.1b", 2048, 6144, 28, 16, 8, 128, 151936),
}


def random_decoder(shape: DecoderShape, device: torch.device, dtype: torch.dtype, seed: int = 0) -> nn.Module:
    """A randomly initialised Qwen3ForCausalLM of `shape`, in eval mode on `device`."""
    from transformers import Qwen3Config, Qwen3ForCausalLM

    config = Qwen3Config(
        vocab_size=shape.vocab_size,
        hidden_size=shape.hidden,
        intermediate_size=shape.intermediate,
        num_hidden_layers=shape.num_layers,
        num_attention_heads=shape.num_heads,
        num_key_value_heads=shape.num_kv_heads,
        head_dim=shape.head_dim,
        max_position_embeddings=40960,
        initializer_range=0.02,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    with torch.device(device):
        model = Qwen3ForCausalLM(config)
    return model.to(dtype).eval()


def matmul_rate(device: torch.device, dtype: torch.dtype, size: int, seconds: float = 1.0) -> float:
    """Measured FLOP/s of one dense size x size matmul in `dtype` (the physical floor's denominator)."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    _sync(device)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        a @ b
        count += 1
        if device.type == "cuda" and count % 10:
            continue
        _sync(device)
    _sync(device)
    return 2 * size**3 * count / (time.perf_counter() - started)


def cpu_description() -> str:
    """The CPU's model name and the vector ISA torch uses on it (AVX2, AVX512, AVX512_BF16...): the matmul rate and
    which dtype is fast (bf16 runs ~500x slower than fp32 on an AVX2-only CPU) depend on both."""
    try:
        names = [ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                 if ln.startswith("model name")]  # fmt: skip
    except OSError:
        names = []
    return f"{names[0] if names else platform.processor() or 'unknown CPU'}, {torch.backends.cpu.get_cpu_capability()}"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
