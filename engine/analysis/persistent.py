"""Values that are copied in constant time, for state kept at many points of a path.

The flag scanner keeps its state at checkpoints along every path (``flags.FlagCache``). With
plain lists and dicts, each checkpoint was a full copy of everything seen above it, so a path
of n steps held n²/32 entries: 2.8 GB and minutes of work at 100,000 steps. Here an update
makes a new value that shares all but O(log n) of the old one, so a checkpoint costs what
changed since the last one, never the depth.

- ``Chain``: an append-only sequence as linked cells ``(item, rest)``; ``None`` is empty.
- ``PMap``: a hash array mapped trie (32-way on the key's hash), updated by copying the
  at most ~7 small dicts on the way to the key.
"""

from __future__ import annotations

from typing import Any

Chain = tuple | None
"""``(item, rest)`` cells, newest first; ``None`` is the empty chain."""


def push(chain: Chain, item: Any) -> tuple:
    return (item, chain)


def items(chain: Chain) -> list:
    """The chain's items, oldest first (O(length): for showing a result, not for each step)."""
    out = []
    while chain is not None:
        out.append(chain[0])
        chain = chain[1]
    out.reverse()
    return out


_BITS, _MASK, _HASH_BITS = 5, 31, 64


class _Leaf:
    __slots__ = ("hash", "key", "value")

    def __init__(self, h: int, key, value) -> None:
        self.hash, self.key, self.value = h, key, value


class _Collision:
    """Keys whose 64-bit hashes are all equal (below the trie's last level)."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: dict) -> None:
        self.pairs = pairs


def _hash(key) -> int:
    return hash(key) & ((1 << _HASH_BITS) - 1)


def _merge(a: _Leaf, b: _Leaf, shift: int) -> dict | _Collision:
    """The node that holds two leaves whose hashes agree below ``shift``."""
    if shift >= _HASH_BITS:
        return _Collision({a.key: a.value, b.key: b.value})
    i, j = (a.hash >> shift) & _MASK, (b.hash >> shift) & _MASK
    if i != j:
        return {i: a, j: b}
    return {i: _merge(a, b, shift + _BITS)}


class PMap:
    """An immutable map: ``set`` and ``discard`` return a new map and leave this one as it was."""

    __slots__ = ("_root", "_len")

    def __init__(self, _root: dict | None = None, _len: int = 0) -> None:
        self._root = _root if _root is not None else {}
        self._len = _len

    def __len__(self) -> int:
        return self._len

    def get(self, key, default=None):
        h, node, shift = _hash(key), self._root, 0
        while True:
            if isinstance(node, _Collision):
                return node.pairs.get(key, default)
            entry = node.get((h >> shift) & _MASK)
            if entry is None:
                return default
            if isinstance(entry, _Leaf):
                return entry.value if entry.key == key else default
            node, shift = entry, shift + _BITS

    def __contains__(self, key) -> bool:
        return self.get(key, _MISSING) is not _MISSING

    def set(self, key, value) -> PMap:
        added = [1]
        root = self._set(self._root, _hash(key), key, value, 0, added)
        return PMap(root, self._len + added[0])

    def _set(self, node, h: int, key, value, shift: int, added: list):
        if isinstance(node, _Collision):
            added[0] = int(key not in node.pairs)
            return _Collision({**node.pairs, key: value})
        index = (h >> shift) & _MASK
        entry = node.get(index)
        new = dict(node)
        if entry is None:
            new[index] = _Leaf(h, key, value)
        elif isinstance(entry, _Leaf):
            if entry.key == key:
                added[0] = 0
                new[index] = _Leaf(h, key, value)
            else:
                new[index] = _merge(entry, _Leaf(h, key, value), shift + _BITS)
        else:
            new[index] = self._set(entry, h, key, value, shift + _BITS, added)
        return new

    def discard(self, key) -> PMap:
        if key not in self:
            return self
        return PMap(self._discard(self._root, _hash(key), key, 0), self._len - 1)

    def _discard(self, node, h: int, key, shift: int):
        if isinstance(node, _Collision):
            return _Collision({k: v for k, v in node.pairs.items() if k != key})
        index = (h >> shift) & _MASK
        entry = node[index]
        new = dict(node)
        if isinstance(entry, _Leaf):
            del new[index]
        else:  # an emptied sub-node stays: lookups pass through it, and it is rare and small
            new[index] = self._discard(entry, h, key, shift + _BITS)
        return new


_MISSING = object()
