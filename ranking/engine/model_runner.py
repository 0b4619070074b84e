"""A forward pass of our own over a Hugging Face decoder's weights, with full control of KV and masks.

Every architecture in ranking/decoder_layout.py: embed, per layer attention norm -> q/k/v (fused or not, + per-head
q_norm/k_norm where present) -> RoPE (partial, per layer type) -> attention (sliding window and logit soft-cap
where the config has them) -> o_proj (+ output norm), MLP norm -> MLP (+ output norm), final norm, lm_head
(+ final soft-cap). The HF modules themselves are called for every norm, projection and MLP, so numerics match
the transformers forward.
Several requests ("items") are packed into one token row: every linear layer runs once over all of them, and
attention runs per item (its cached prefix KV, its new prefix tokens, its k candidate suffixes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ranking.decoder_layout import (
    DecoderLayout,
    UnsupportedArchitectureError,
    decoder_layout,
    rope_layer_type,
    sliding_window,
)
from ranking.engine.attention import AttentionMods, KeyValues, SdpaAttention, make_attention
from ranking.engine.kv_segment import TensorKVSegment, layer_parts
from ranking.model_loader import LoadedModel

UnsupportedModelError = UnsupportedArchitectureError


@dataclass
class ForwardItem:
    """One request's share of a forward pass: KV it already has, new prefix tokens, candidate suffixes."""

    past: Sequence[TensorKVSegment]
    prefix_ids: Sequence[int]
    suffix_ids: Sequence[Sequence[int]] = ()
    label_ids: Sequence[int] = ()
    is_label_normalised: bool = False  # log-probs over the label ids alone: no full-vocabulary LM head
    past_len: int = field(init=False)

    def __post_init__(self) -> None:
        self.past_len = sum(len(s) for s in self.past)

    @property
    def num_tokens(self) -> int:
        return len(self.prefix_ids) + sum(len(s) for s in self.suffix_ids)


@dataclass
class ForwardOutput:
    """The new prefix tokens' KV (None if there were none) and [k, len(label_ids)] label log-probs (float32)."""

    prefix_kv: TensorKVSegment | None
    label_logprobs: torch.Tensor | None


def rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding as transformers applies it; x [N, heads, d], cos/sin [N, 1, r] rotate the first r <= d."""
    dim = cos.shape[-1]
    x_rot, x_pass = x[..., :dim], x[..., dim:]
    half = dim // 2
    rotated = torch.cat((-x_rot[..., half:], x_rot[..., :half]), dim=-1)
    out = (x_rot * cos) + (rotated * sin)
    if x_pass.shape[-1] == 0:  # full-width rotary: a last-dim cat with nothing would still copy every element
        return out
    return torch.cat([out, x_pass], dim=-1)


class ModelRunner:
    """Runs packed forward items through a loaded causal LM."""

    def __init__(self, loaded: LoadedModel, attention_backend: str = "sdpa") -> None:
        model = loaded.model
        config = model.config
        self.layout: DecoderLayout = decoder_layout(config)
        self.device = loaded.device
        self.dtype = loaded.dtype
        self.base: Any = model.model
        self.lm_head: Any = model.get_output_embeddings()
        self.layers: list[Any] = list(self.base.layers)
        attn = self.layers[0].self_attn
        self.head_dim = int(attn.head_dim)
        self.num_kv_heads = int(config.num_key_value_heads)
        self.num_layers = len(self.layers)
        self.scale = float(attn.scaling)
        self.attention: SdpaAttention = make_attention(attention_backend, loaded.device)
        self.masked_attention = SdpaAttention()  # windows and soft-caps: explicit masks, plain maths
        softcap = getattr(config, "attn_logit_softcapping", None)
        self.mods = [AttentionMods(sliding_window(config, i), softcap) for i in range(self.num_layers)]
        self.rope_types = [rope_layer_type(config, i) for i in range(self.num_layers)]
        self.final_softcap: float | None = getattr(config, "final_logit_softcapping", None)

    @torch.inference_mode()
    def forward(self, items: Sequence[ForwardItem]) -> list[ForwardOutput]:
        """One forward pass over all items; new prefix KV is returned, candidate KV is dropped."""
        ids, positions = self._pack(items)
        x = self.base.embed_tokens(ids)[None]  # [1, N, H]; Gemma's embedding scale lives in the module
        ropes = {kind: self._rope(x, positions, kind) for kind in set(self.rope_types)}
        new_kv: list[list[torch.Tensor]] = [[] for _ in items]
        layout = self.layout
        for index, layer in enumerate(self.layers):
            hidden = layer.get_submodule(layout.attn_norm)(x)[0]
            cos, sin = ropes[self.rope_types[index]]
            attn_out = self._attention(index, layer.self_attn, hidden, cos, sin, items, new_kv)
            x = x + _maybe_norm(layer, layout.attn_out_norm, layer.self_attn.o_proj(attn_out)[None])
            mlp_out = layer.mlp(layer.get_submodule(layout.mlp_norm)(x))
            x = x + _maybe_norm(layer, layout.mlp_out_norm, mlp_out)
        return self._outputs(items, x[0], new_kv)

    def _rope(self, x: torch.Tensor, positions: torch.Tensor, kind: str | None) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin [N, 1, rotary_dim] for one RoPE kind (Gemma3 keeps one per layer type)."""
        args = (x, positions[None]) if kind is None else (x, positions[None], kind)
        cos, sin = self.base.rotary_emb(*args)
        return cos[0, :, None, :], sin[0, :, None, :]

    def _pack(self, items: Sequence[ForwardItem]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids and position ids of all items in one row: prefix tokens, then each suffix from the prefix end."""
        ids: list[int] = []
        positions: list[int] = []
        for item in items:
            ids.extend(item.prefix_ids)
            positions.extend(range(item.past_len, item.past_len + len(item.prefix_ids)))
            context_len = item.past_len + len(item.prefix_ids)
            for suffix in item.suffix_ids:
                ids.extend(suffix)
                positions.extend(range(context_len, context_len + len(suffix)))

        def as_tensor(values: list[int]) -> torch.Tensor:
            return torch.tensor(values, dtype=torch.long, device=self.device)

        return as_tensor(ids), as_tensor(positions)

    def _attention(
        self,
        index: int,
        attn: Any,
        hidden: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        items: Sequence[ForwardItem],
        new_kv: list[list[torch.Tensor]],
    ) -> torch.Tensor:
        """Projections for all tokens at once, attention per item; returns [N, heads * d]."""
        num_tokens = hidden.shape[0]
        q, k, v = (t.view(num_tokens, -1, self.head_dim) for t in self._qkv(attn, hidden))
        if self.layout.has_qk_norm:  # Qwen3, Gemma3 normalise each head before RoPE
            q, k = attn.q_norm(q), attn.k_norm(k)
        mods = self.mods[index]
        kernel = self.attention if mods.is_plain else self.masked_attention
        q, k = rope(q, cos, sin).transpose(0, 1), rope(k, cos, sin).transpose(0, 1)  # [heads, N, d]
        v = v.transpose(0, 1)
        out = torch.empty_like(q)
        start = 0
        for item_index, item in enumerate(items):
            end = start + item.num_tokens
            num_new = len(item.prefix_ids)
            kv = KeyValues((*layer_parts(item.past, index), (k[:, start:end], v[:, start:end])))
            context_len = item.past_len + num_new
            if num_new:
                out[:, start : start + num_new] = kernel.prefix(
                    q[:, start : start + num_new], kv.split(context_len)[0], item.past_len, self.scale, mods
                )
                new_kv[item_index].append(torch.stack([k[:, start : start + num_new], v[:, start : start + num_new]]))
            if item.suffix_ids:
                lens = [len(s) for s in item.suffix_ids]
                out[:, start + num_new : end] = kernel.suffix(
                    q[:, start + num_new : end], kv, context_len, lens, self.scale, mods
                )
            start = end
        return out.transpose(0, 1).reshape(num_tokens, -1)

    def _qkv(self, attn: Any, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q, k, v [N, heads * d] from separate projections or one fused qkv_proj (q rows, then k, then v)."""
        if not self.layout.is_fused:
            return attn.q_proj(hidden), attn.k_proj(hidden), attn.v_proj(hidden)
        qkv = attn.qkv_proj(hidden)
        kv_width = self.num_kv_heads * self.head_dim
        q_width = qkv.shape[-1] - 2 * kv_width
        return qkv[..., :q_width], qkv[..., q_width : q_width + kv_width], qkv[..., q_width + kv_width :]

    def _outputs(
        self, items: Sequence[ForwardItem], x: torch.Tensor, new_kv: list[list[torch.Tensor]]
    ) -> list[ForwardOutput]:
        """lm_head only on each suffix's last token (k rows per item, not k * T)."""
        outputs = []
        start = 0
        for item, layers_kv in zip(items, new_kv, strict=True):
            num_new = len(item.prefix_ids)
            kv = TensorKVSegment(torch.stack(layers_kv)) if layers_kv else None
            logprobs = None
            if item.suffix_ids:
                ends = torch.tensor([len(s) for s in item.suffix_ids], device=x.device).cumsum(0)
                last = x[start + num_new + ends - 1]  # [k, H]
                hidden = self.base.norm(last)
                logprobs = self._label_logprobs(hidden, list(item.label_ids), item.is_label_normalised).cpu()
            outputs.append(ForwardOutput(kv, logprobs))
            start += item.num_tokens
        return outputs

    def _label_logprobs(self, hidden: torch.Tensor, label_ids: list[int], over_labels: bool) -> torch.Tensor:
        """[k, H] final hidden states -> [k, labels] log-probs of the label ids, float32, normalised over the full
        vocabulary or (`over_labels`) over the label ids alone, which never reads the rest of the LM head.

        In bf16 a logit of usual size is rounded to a step of 0.03-0.06, which turns close candidates into ties;
        the label logits are therefore recomputed in float32 from the hidden state (two rows of the LM head),
        while the log-sum-exp over the vocabulary takes the model-dtype logits. In float32 both are the same."""
        if over_labels:
            return torch.log_softmax(self._label_logits(hidden, label_ids), dim=-1)
        logits = self._softcap(self.lm_head(hidden).float())
        label_logits = self._label_logits(hidden, label_ids, logits)
        return label_logits - torch.logsumexp(logits, dim=-1, keepdim=True)

    def _label_logits(
        self, hidden: torch.Tensor, label_ids: list[int], logits: torch.Tensor | None = None
    ) -> torch.Tensor:
        """[k, labels] float32 logits of the label ids: their rows of a plain LM head only, else from `logits`
        (the full head's, computed here if not given: a quantized head keeps its own arithmetic)."""
        if not isinstance(self.lm_head, torch.nn.Linear):
            full = logits if logits is not None else self._softcap(self.lm_head(hidden).float())
            return full[:, label_ids]
        label_logits = hidden.float() @ self.lm_head.weight[label_ids].float().T
        if self.lm_head.bias is not None:
            label_logits = label_logits + self.lm_head.bias[label_ids].float()
        return self._softcap(label_logits)

    def _softcap(self, logits: torch.Tensor) -> torch.Tensor:
        """Gemma2: tanh-capped logits, as transformers does; others unchanged."""
        if self.final_softcap is None:
            return logits
        return torch.tanh(logits / self.final_softcap) * self.final_softcap


def _maybe_norm(layer: Any, name: str | None, x: torch.Tensor) -> torch.Tensor:
    """x through the layer's named norm, or unchanged when the layout has none there."""
    return x if name is None else layer.get_submodule(name)(x)
