"""A least-recently-used cache whose entries expire."""

from __future__ import annotations

import time
from collections import OrderedDict

from ttlcache.stats import Stats

_MISSING = object()


class TTLCache:
    def __init__(self, maxsize: int, ttl: float, clock=time.monotonic) -> None:
        if maxsize < 1 or ttl <= 0:
            raise ValueError("maxsize must be at least 1 and ttl positive")
        self.maxsize = maxsize
        self.ttl = ttl
        self._clock = clock
        self._data: OrderedDict[object, tuple[float, object]] = OrderedDict()
        self.stats = Stats()

    def set(self, key, value) -> None:
        if key in self._data:
            del self._data[key]
        elif len(self._data) >= self.maxsize:
            self._evict()
        self._data[key] = (self._clock() + self.ttl, value)

    def get(self, key, default=None):
        entry = self._data.get(key, _MISSING)
        if entry is _MISSING:
            self.stats.misses += 1
            return default
        expires, value = entry
        if expires <= self._clock():
            del self._data[key]
            self.stats.expirations += 1
            self.stats.misses += 1
            return default
        self.stats.hits += 1
        return value

    def _evict(self) -> None:
        now = self._clock()
        expired = [k for k, (expires, _) in self._data.items() if expires <= now]
        for key in expired:
            del self._data[key]
            self.stats.expirations += 1
        if len(self._data) >= self.maxsize:
            self._data.popitem(last=False)
            self.stats.evictions += 1

    def __contains__(self, key) -> bool:
        entry = self._data.get(key)
        return entry is not None and entry[0] > self._clock()

    def __len__(self) -> int:
        return len(self._data)
