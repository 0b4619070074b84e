"""A radix tree over token ids whose nodes own the KV of their token run (plain Python, no torch).

The verbs follow SGLang's radix cache: `match_prefix`, `insert`, `evict`, `inc_lock_ref`/`dec_lock_ref`. A node's
value is any `KVSegment` (the engine stores tensors, the tests store token lists), so the bookkeeping is
testable without a model. Memory is accounted in bytes against a budget; only unlocked leaves are evicted,
least recently used first.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class KVSegment(Protocol):
    """The KV of a run of tokens: its length in tokens, its size in bytes, and a split into two runs."""

    @property
    def nbytes(self) -> int: ...

    def __len__(self) -> int: ...

    def split(self, at: int) -> tuple[KVSegment, KVSegment]: ...


@dataclass(eq=False)
class RadixNode:
    """Edge label `key` (token ids) with its KV `value`; children keyed by their first token."""

    key: tuple[int, ...] = ()
    value: KVSegment | None = None
    parent: RadixNode | None = None
    children: dict[int, RadixNode] = field(default_factory=dict)
    lock_ref: int = 0
    last_access: int = 0

    @property
    def nbytes(self) -> int:
        return 0 if self.value is None else self.value.nbytes

    def __lt__(self, other: RadixNode) -> bool:
        # heapq needs an order; ties never happen because every access gets a fresh tick.
        return self.last_access < other.last_access


@dataclass(frozen=True)
class PrefixMatch:
    """The deepest node whose root path is a prefix of the query, its depth in tokens and the path's KV."""

    node: RadixNode
    length: int
    segments: tuple[KVSegment, ...]


class RadixCache:
    """Longest-prefix KV reuse under a byte budget."""

    def __init__(self, budget_bytes: int) -> None:
        if budget_bytes < 0:
            raise ValueError("RadixCache budget_bytes must be >= 0")
        self.budget_bytes = budget_bytes
        self.root = RadixNode(lock_ref=1)  # the root is never evicted
        self.bytes_in_use = 0
        self.num_evictions = 0
        self.evicted_bytes = 0
        self._ticks = itertools.count(1)

    def match_prefix(self, ids: Sequence[int]) -> PrefixMatch:
        """Walk down as far as `ids` agrees with the tree, splitting a node where the match stops inside it."""
        node, depth, segments = self.root, 0, []
        tick = next(self._ticks)
        node.last_access = tick
        while depth < len(ids) and ids[depth] in node.children:
            child = node.children[ids[depth]]
            common = _common_len(child.key, ids, depth)
            if common < len(child.key):
                child = self._split(child, common)
            child.last_access = tick
            assert child.value is not None
            segments.append(child.value)
            node, depth = child, depth + common
        return PrefixMatch(node, depth, tuple(segments))

    def insert(self, ids: Sequence[int], value: KVSegment, start: int) -> RadixNode:
        """Cache `value`, the KV of ids[start:], below the path of ids[:start] (which the caller keeps locked).

        Tokens already in the tree keep their KV (ours is dropped for them). Returns the deepest node on the
        path of `ids`: the new leaf, or an existing node when nothing new fits in the budget.
        """
        if len(value) != len(ids) - start:
            raise ValueError("insert: value length must equal len(ids) - start")
        node, depth = self._walk_existing(ids)
        if depth < start:
            raise ValueError("insert: the path of ids[:start] is not in the tree (was it locked?)")
        if depth == len(ids):
            return node
        rest = value.split(depth - start)[1] if depth > start else value
        self.inc_lock_ref(node)  # eviction below must not take the node we attach to
        self.evict(self.bytes_in_use + rest.nbytes - self.budget_bytes)
        self.dec_lock_ref(node)
        if self.bytes_in_use + rest.nbytes > self.budget_bytes:
            return node
        leaf = RadixNode(tuple(ids[depth:]), rest, node, last_access=next(self._ticks))
        node.children[leaf.key[0]] = leaf
        self.bytes_in_use += rest.nbytes
        return leaf

    def evict(self, num_bytes: int) -> int:
        """Free at least `num_bytes` (if possible) by dropping unlocked leaves, least recently used first."""
        freed = 0
        heap = [n for n in self._nodes() if not n.children and n.lock_ref == 0]
        heapq.heapify(heap)
        while freed < num_bytes and heap:
            leaf = heapq.heappop(heap)
            parent = leaf.parent
            assert parent is not None
            del parent.children[leaf.key[0]]
            freed += leaf.nbytes
            self.num_evictions += 1
            if not parent.children and parent.lock_ref == 0:
                heapq.heappush(heap, parent)
        self.bytes_in_use -= freed
        self.evicted_bytes += freed
        return freed

    def inc_lock_ref(self, node: RadixNode) -> None:
        """Protect `node` and its ancestors from eviction while a request reads their KV."""
        cur: RadixNode | None = node
        while cur is not None and cur is not self.root:
            cur.lock_ref += 1
            cur = cur.parent

    def dec_lock_ref(self, node: RadixNode) -> None:
        """Undo one inc_lock_ref(node)."""
        cur: RadixNode | None = node
        while cur is not None and cur is not self.root:
            if cur.lock_ref <= 0:
                raise RuntimeError("dec_lock_ref on an unlocked node")
            cur.lock_ref -= 1
            cur = cur.parent

    def reset(self) -> None:
        """Drop every node (all locks must be released)."""
        self.evict(self.bytes_in_use)
        if self.root.children:
            raise RuntimeError("reset: some nodes are still locked")

    def depth(self, node: RadixNode) -> int:
        """Tokens on the path from the root to `node`."""
        total = 0
        cur: RadixNode | None = node
        while cur is not None:
            total += len(cur.key)
            cur = cur.parent
        return total

    @property
    def num_nodes(self) -> int:
        return sum(1 for _ in self._nodes())

    def _nodes(self) -> Iterator[RadixNode]:
        """Every node but the root."""
        stack = list(self.root.children.values())
        while stack:
            node = stack.pop()
            yield node
            stack.extend(node.children.values())

    def _walk_existing(self, ids: Sequence[int]) -> tuple[RadixNode, int]:
        """Like match_prefix without touching access times (insert's own walk)."""
        node, depth = self.root, 0
        while depth < len(ids) and ids[depth] in node.children:
            child = node.children[ids[depth]]
            common = _common_len(child.key, ids, depth)
            if common < len(child.key):
                child = self._split(child, common)
            node, depth = child, depth + common
        return node, depth

    def _split(self, node: RadixNode, at: int) -> RadixNode:
        """Cut `node` after `at` tokens; returns the new upper half (locks and access time are inherited)."""
        assert node.value is not None and node.parent is not None and 0 < at < len(node.key)
        head_value, tail_value = node.value.split(at)
        # Splitting may change the byte total (e.g. tensors rounded per segment): keep the accounting exact.
        self.bytes_in_use += head_value.nbytes + tail_value.nbytes - node.value.nbytes
        head = RadixNode(node.key[:at], head_value, node.parent, {}, node.lock_ref, node.last_access)
        node.parent.children[head.key[0]] = head
        node.key, node.value, node.parent = node.key[at:], tail_value, head
        head.children[node.key[0]] = node
        return head


def _common_len(key: tuple[int, ...], ids: Sequence[int], offset: int) -> int:
    """Length of the common prefix of `key` and ids[offset:]."""
    n = min(len(key), len(ids) - offset)
    i = 0
    while i < n and key[i] == ids[offset + i]:
        i += 1
    return i
