"""Attention for the two shapes the engine runs: a prefix chunk after cached KV, and k suffixes on one prefix.

Shapes: queries [heads, n, head_dim], keys/values [kv_heads, len, head_dim] (grouped-query attention allowed).
The suffix pass never copies the prefix KV k times: all k suffixes are one query block whose mask lets each
suffix see the whole shared context plus its own earlier tokens (block-diagonal causal).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AttentionMods:
    """What a layer's attention adds to plain causal softmax: a sliding window (a key is seen when
    query_pos - key_pos < window) and a tanh soft-cap on the scaled scores (Gemma2)."""

    window: int | None = None
    softcap: float | None = None

    @property
    def is_plain(self) -> bool:
        return self.window is None and self.softcap is None


PLAIN = AttentionMods()

KV = tuple[torch.Tensor, torch.Tensor]  # keys, values [kv_heads, len, head_dim]


@dataclass(frozen=True)
class KeyValues:
    """The keys and values a query block attends to, as consecutive parts: the radix cache's segments, then this
    pass's new tokens. Parts are read where they lie; only kernels that need one tensor pay for `whole`."""

    parts: tuple[KV, ...]

    @classmethod
    def of(cls, k: torch.Tensor, v: torch.Tensor) -> KeyValues:
        return cls(((k, v),))

    def __len__(self) -> int:
        return sum(int(k.shape[1]) for k, _ in self.parts)

    def whole(self) -> KV:
        """One [kv_heads, len, d] pair: the only part as is, or the parts concatenated (a copy)."""
        if len(self.parts) == 1:
            return self.parts[0]
        return torch.cat([k for k, _ in self.parts], dim=1), torch.cat([v for _, v in self.parts], dim=1)

    def split(self, at: int) -> tuple[KeyValues, KeyValues]:
        """Positions [0, at) and [at, len) as two KeyValues of views (no copy)."""
        head: list[KV] = []
        tail: list[KV] = []
        start = 0
        for k, v in self.parts:
            cut = min(max(at - start, 0), int(k.shape[1]))
            if cut:
                head.append((k[:, :cut], v[:, :cut]))
            if cut < k.shape[1]:
                tail.append((k[:, cut:], v[:, cut:]))
            start += int(k.shape[1])
        return KeyValues(tuple(head)), KeyValues(tuple(tail))


def prefix_mask(num_new: int, past_len: int, device: torch.device, window: int | None = None) -> torch.Tensor:
    """[num_new, past_len + num_new] bool: new token i sees every cached token and new tokens up to i."""
    rows = torch.arange(num_new, device=device)[:, None] + past_len
    cols = torch.arange(past_len + num_new, device=device)[None, :]
    mask = cols <= rows
    return mask if window is None else mask & (rows - cols < window)


def suffix_mask(
    suffix_lens: Sequence[int], context_len: int, device: torch.device, window: int | None = None
) -> torch.Tensor:
    """[S, context_len + S] bool: a suffix token sees the whole context and its own suffix up to itself."""
    lens = torch.tensor(list(suffix_lens), device=device)
    owner = torch.repeat_interleave(torch.arange(len(suffix_lens), device=device), lens)
    idx = torch.arange(int(lens.sum()), device=device)
    own = (owner[:, None] == owner[None, :]) & (idx[None, :] <= idx[:, None])
    context = torch.ones((len(owner), context_len), dtype=torch.bool, device=device)
    if window is not None:
        position = context_len + idx - (lens.cumsum(0) - lens)[owner]  # each suffix starts at context_len
        context &= position[:, None] - torch.arange(context_len, device=device)[None, :] < window
        own &= position[:, None] - position[None, :] < window
    return torch.cat([context, own], dim=1)


class SdpaAttention:
    """torch scaled_dot_product_attention with explicit boolean masks (CPU and CUDA)."""

    name = "sdpa"

    def prefix(
        self, q: torch.Tensor, kv: KeyValues, past_len: int, scale: float, mods: AttentionMods = PLAIN
    ) -> torch.Tensor:
        """New prefix tokens: causal over [cached; new] (`kv` holds both)."""
        k, v = kv.whole()
        if mods.softcap is not None:
            return _eager(q, k, v, prefix_mask(q.shape[1], past_len, q.device, mods.window), scale, mods.softcap)
        if past_len == 0 and mods.window is None:
            return _sdpa(q, k, v, None, scale)
        return _sdpa(q, k, v, prefix_mask(q.shape[1], past_len, q.device, mods.window), scale)

    def suffix(
        self,
        q: torch.Tensor,
        kv: KeyValues,
        context_len: int,
        suffix_lens: Sequence[int],
        scale: float,
        mods: AttentionMods = PLAIN,
    ) -> torch.Tensor:
        """All suffix tokens at once over [context; suffixes] with the block-diagonal causal mask."""
        k, v = kv.whole()
        mask = suffix_mask(suffix_lens, context_len, q.device, mods.window)
        if mods.softcap is not None:
            return _eager(q, k, v, mask, scale, mods.softcap)
        return _sdpa(q, k, v, mask, scale)


def _eager(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor, scale: float, softcap: float
) -> torch.Tensor:
    """Soft-capped attention as transformers' eager path computes it: tanh(s / c) * c, masked, fp32 softmax."""
    k, v = _repeat_heads(k, q), _repeat_heads(v, q)
    scores = torch.tanh((q @ k.transpose(-1, -2)) * scale / softcap) * softcap
    scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores.float(), dim=-1).to(q.dtype) @ v


def _sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None, scale: float) -> torch.Tensor:
    """SDPA on [1, heads, len, d]: with 3-D inputs torch's CPU falls back to the slow math kernel."""
    out = F.scaled_dot_product_attention(
        q[None], k[None], v[None], attn_mask=mask, is_causal=mask is None, scale=scale, enable_gqa=True
    )
    return out[0]


AttentionState = tuple[torch.Tensor, torch.Tensor]  # output [heads, n, d], log-sum-exp [heads, n] (float32)


class CascadeAttention(SdpaAttention):
    """CPU: attention split at the context boundary and merged by log-sum-exp (what FlashInfer's cascade does).

    The shared context is attended without any mask by SDPA's CPU flash kernel (called directly because only
    it returns the log-sum-exp), with grouped query heads folded into the query length so the cached KV is
    read as is: each radix segment where it lies, merged by log-sum-exp, never concatenated (at a 16k-token
    prefix in two segments that copy was half of a k = 1 repeat request on CPU). The part after the boundary
    (a new prefix chunk: causal; k suffixes: each causal on itself) is small and computed separately. This skips
    the k * suffix_len squared masked scores of the one-mask form.
    """

    name = "sdpa_cascade"

    @staticmethod
    def is_available() -> bool:
        return hasattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu")

    def prefix(
        self, q: torch.Tensor, kv: KeyValues, past_len: int, scale: float, mods: AttentionMods = PLAIN
    ) -> torch.Tensor:
        if not mods.is_plain or past_len == 0:  # nothing cached: plain causal SDPA reads the KV heads as they are
            return super().prefix(q, kv, past_len, scale, mods)
        past, new = kv.split(past_len)
        k, v = new.whole()
        own = _flash(q, _repeat_heads(k, q), _repeat_heads(v, q), True, scale)
        return _merge([*_shared(q, past, scale), own], q.dtype)

    def suffix(
        self,
        q: torch.Tensor,
        kv: KeyValues,
        context_len: int,
        suffix_lens: Sequence[int],
        scale: float,
        mods: AttentionMods = PLAIN,
    ) -> torch.Tensor:
        if not mods.is_plain:
            return super().suffix(q, kv, context_len, suffix_lens, scale, mods)
        context, suffixes = kv.split(context_len)
        k, v = suffixes.whole()
        if len(suffix_lens) == 1:  # one candidate: plain causal attention, no padding
            own = _flash(q, _repeat_heads(k, q), _repeat_heads(v, q), True, scale)
        else:
            own = _per_suffix(q, k, v, suffix_lens, scale)
        if context_len == 0:
            return own[0].to(q.dtype)
        return _merge([*_shared(q, context, scale), own], q.dtype)


def _flash(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool, scale: float) -> AttentionState:
    """SDPA's CPU flash kernel on [heads, n, d] with its log-sum-exp."""
    out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
        q[None], k[None], v[None], is_causal=causal, scale=scale
    )[:2]
    return out[0], lse[0].float()


def _shared(q: torch.Tensor, context: KeyValues, scale: float) -> list[AttentionState]:
    """Unmasked attention to each part of the context, read in place; the query heads of one KV head become one
    longer query block."""
    heads, n, d = q.shape
    states = []
    for k, v in context.parts:
        out, lse = _flash(q.reshape(k.shape[0], heads // k.shape[0] * n, d), k, v, False, scale)
        states.append((out.reshape(heads, n, d), lse.reshape(heads, n)))
    return states


def _repeat_heads(x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """KV heads repeated to the query heads (head h reads KV head h // group, as transformers' repeat_kv)."""
    return x.repeat_interleave(q.shape[0] // x.shape[0], dim=0)


def _per_suffix(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, suffix_lens: Sequence[int], scale: float
) -> AttentionState:
    """Each suffix attends causally to itself: suffixes padded to [k, heads, L, d], scored in float32."""
    lens = torch.tensor(list(suffix_lens), device=q.device)
    owner = torch.repeat_interleave(torch.arange(len(suffix_lens), device=q.device), lens)
    offset = torch.arange(len(owner), device=q.device) - (lens.cumsum(0) - lens)[owner]
    width = int(lens.max())

    def pad(x: torch.Tensor) -> torch.Tensor:  # [heads, S, d] -> [k, heads, width, d]
        out = x.new_zeros((len(suffix_lens), width, x.shape[0], x.shape[2]), dtype=torch.float32)
        out[owner, offset] = x.transpose(0, 1).float()
        return out.transpose(1, 2)

    scores = pad(q) @ _repeat_heads(pad(k).transpose(0, 1), q).transpose(0, 1).transpose(-1, -2) * scale
    causal = torch.ones((width, width), dtype=torch.bool, device=q.device).tril()
    scores = scores.masked_fill(~causal, float("-inf"))
    lse = scores.logsumexp(-1)  # [k, heads, width]
    out = torch.exp(scores - lse[..., None]) @ _repeat_heads(pad(v).transpose(0, 1), q).transpose(0, 1)
    return out[owner, :, offset].transpose(0, 1), lse[owner, :, offset].transpose(0, 1)


def _merge(states: Sequence[AttentionState], dtype: torch.dtype) -> torch.Tensor:
    """Softmax over the union of disjoint key sets from each part's output and log-sum-exp."""
    lse = torch.logsumexp(torch.stack([s[1] for s in states]), dim=0)
    out = torch.zeros_like(states[0][0], dtype=torch.float32)
    for part_out, part_lse in states:
        out += part_out.float() * torch.exp(part_lse - lse)[..., None]
    return out.to(dtype)


FLASHINFER_HEAD_DIMS = (64, 128, 256)  # head sizes FlashInfer's prebuilt kernels cover; others use SDPA


class FlashInferAttention(SdpaAttention):
    """CUDA only: FlashInfer's cascade split for the suffix pass (shared-context attention merged with per-suffix
    causal attention by log-sum-exp), the kernel shape made for one prefix and many candidates.

    Not exercised without a GPU (no device was lent to this task); tests marked `gpu` compare it with SDPA.
    """

    name = "flashinfer"

    def __init__(self, device: torch.device) -> None:
        import flashinfer  # optional extra; ImportError means "use sdpa"

        self._fi = flashinfer
        self._workspace = torch.empty(128 * 1024 * 1024, dtype=torch.uint8, device=device)
        self._ragged = flashinfer.BatchPrefillWithRaggedKVCacheWrapper(self._workspace, "NHD")

    def prefix(
        self, q: torch.Tensor, kv: KeyValues, past_len: int, scale: float, mods: AttentionMods = PLAIN
    ) -> torch.Tensor:
        if q.shape[-1] not in FLASHINFER_HEAD_DIMS or not mods.is_plain:
            return super().prefix(q, kv, past_len, scale, mods)
        k, v = kv.whole()
        # FlashInfer aligns the causal mask bottom-right when kv_len > qo_len: exactly "after the cached KV".
        out = self._fi.single_prefill_with_kv_cache(
            q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1), causal=True, sm_scale=scale
        )
        return out.transpose(0, 1)

    def suffix(
        self,
        q: torch.Tensor,
        kv: KeyValues,
        context_len: int,
        suffix_lens: Sequence[int],
        scale: float,
        mods: AttentionMods = PLAIN,
    ) -> torch.Tensor:
        if q.shape[-1] not in FLASHINFER_HEAD_DIMS or context_len == 0 or not mods.is_plain:
            return super().suffix(q, kv, context_len, suffix_lens, scale, mods)
        k, v = kv.whole()
        qn, kn, vn = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)  # NHD
        shared, shared_lse = self._fi.single_prefill_with_kv_cache(
            qn, kn[:context_len], vn[:context_len], causal=False, sm_scale=scale, return_lse=True
        )
        indptr = torch.tensor([0, *torch.tensor(list(suffix_lens)).cumsum(0).tolist()], dtype=torch.int32)
        indptr = indptr.to(q.device)
        self._ragged.plan(
            indptr,
            indptr,
            q.shape[0],
            k.shape[0],
            q.shape[2],
            causal=True,
            sm_scale=scale,
            q_data_type=q.dtype,
        )
        own, own_lse = self._ragged.run(qn, kn[context_len:], vn[context_len:], return_lse=True)
        merged, _ = self._fi.merge_state(shared, shared_lse, own, own_lse)
        return merged.transpose(0, 1)


def make_attention(backend: str, device: torch.device) -> SdpaAttention:
    """`sdpa`, `sdpa_cascade` (CPU), `flashinfer` (CUDA + the package) or `auto` (the fastest usable one)."""
    if backend == "sdpa_cascade" or (backend == "auto" and device.type == "cpu"):
        if device.type != "cpu" or not CascadeAttention.is_available():
            if backend == "sdpa_cascade":
                raise ValueError("attention_backend 'sdpa_cascade' needs a CPU device and torch's CPU flash kernel")
            return SdpaAttention()
        return CascadeAttention()
    if backend == "sdpa" or (backend == "auto" and device.type != "cuda"):
        return SdpaAttention()
    if device.type != "cuda":
        raise ValueError("attention_backend 'flashinfer' needs a CUDA device")
    try:
        return FlashInferAttention(device)
    except ImportError:
        if backend == "flashinfer":
            raise ValueError("attention_backend 'flashinfer' requested but flashinfer is not installed") from None
        return SdpaAttention()
