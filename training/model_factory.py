"""Model shapes as settings, and the Qwen3ForCausalLM (GQA, explicit head_dim) built from them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ModelConfig:
    """A Qwen3 decoder's shape. head_dim is explicit so head pruning can drop heads without touching hidden."""

    hidden_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    head_dim: int = 32
    intermediate_size: int = 384
    max_position_embeddings: int = 4096
    rope_theta: float = 10000.0

    def __post_init__(self) -> None:
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError("ModelConfig: num_attention_heads must be a multiple of num_key_value_heads")
        if self.max_position_embeddings < 4096:
            raise ValueError("ModelConfig: max_position_embeddings must be >= 4096 so the service takes long prefixes")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_model(config: ModelConfig, tokenizer, seed: int):
    """A randomly initialised Qwen3ForCausalLM with tied embeddings sized to the tokenizer."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(seed)
    hf_config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        num_key_value_heads=config.num_key_value_heads,
        head_dim=config.head_dim,
        intermediate_size=config.intermediate_size,
        max_position_embeddings=config.max_position_embeddings,
        rope_parameters={"rope_type": "default", "rope_theta": config.rope_theta},
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        use_cache=True,
    )
    model = Qwen3ForCausalLM(hf_config)
    model.config.architectures = ["Qwen3ForCausalLM"]
    return model


def num_parameters(model) -> int:
    """Parameter count with tied weights counted once."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
