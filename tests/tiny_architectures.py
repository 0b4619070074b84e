"""Tiny random decoders of every architecture in ranking/decoder_layout.py (and two it refuses), built offline.

Each one turns on what its family adds, at sizes where a test sees it: a sliding window of 8 tokens (Mistral,
Gemma2/3 local layers), Gemma2's attention and final soft-caps, Phi3's fused projections and partial RoPE,
Gemma's (1 + w) norms with non-zero w. Norm weights are perturbed so a fold into the wrong norm shows.
"""

from __future__ import annotations

from typing import Any

import torch

SUPPORTED = ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "phi3")
REFUSED = ("phi", "qwen3_moe")
WINDOW = 8
_COMMON: dict[str, Any] = dict(
    vocab_size=128,
    hidden_size=32,
    intermediate_size=48,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    max_position_embeddings=256,
    tie_word_embeddings=False,
    initializer_range=0.2,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=0,
)
_EXTRA: dict[str, dict[str, Any]] = {
    "mistral": {"sliding_window": WINDOW},
    "gemma2": {
        "sliding_window": WINDOW,
        "layer_types": ["sliding_attention", "full_attention"],
        "attn_logit_softcapping": 2.0,
        "final_logit_softcapping": 5.0,
        "query_pre_attn_scalar": 16,
    },
    "gemma3_text": {
        "sliding_window": WINDOW,
        "layer_types": ["sliding_attention", "full_attention"],
        "query_pre_attn_scalar": 16,
    },
    "phi3": {"rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5}},
    "qwen3_moe": {"num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 16},
}


def tiny_config(model_type: str) -> Any:
    """A small config of `model_type` (eager attention, so soft-caps apply in the reference forward)."""
    from transformers import AutoConfig

    kwargs = {**_COMMON, **_EXTRA.get(model_type, {})}
    if model_type == "phi":
        kwargs.pop("head_dim")
    config = AutoConfig.for_model(model_type, **kwargs)
    config._attn_implementation = "eager"
    return config


def tiny_model(model_type: str, seed: int = 0) -> Any:
    """A random causal LM of `model_type` in eval mode, norm weights perturbed away from their init."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_config(model_type)).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name:
                param.add_(0.3 * torch.randn_like(param))
    return model
