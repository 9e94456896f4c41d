import pytest

from ttlcache import TTLCache


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_set_and_get():
    cache = TTLCache(2, 10)
    cache.set("a", 1)
    assert cache.get("a") == 1
    assert cache.get("zz", "none") == "none"


def test_oldest_write_is_evicted():
    cache = TTLCache(2, 10)
    cache.set("a", 1)
    cache.set("b", 2)
    cache.set("c", 3)
    assert "a" not in cache and "b" in cache and "c" in cache
    assert cache.stats.evictions == 1


def test_rewriting_a_key_makes_it_recent():
    cache = TTLCache(2, 10)
    cache.set("a", 1)
    cache.set("b", 2)
    cache.set("a", 3)
    cache.set("c", 4)
    assert cache.get("a") == 3 and "b" not in cache


def test_expiry():
    clock = Clock()
    cache = TTLCache(2, 5, clock=clock)
    cache.set("a", 1)
    clock.now = 5
    assert cache.get("a") is None
    assert cache.stats.expirations == 1


def test_expired_entries_make_room_first():
    clock = Clock()
    cache = TTLCache(2, 5, clock=clock)
    cache.set("a", 1)
    clock.now = 3
    cache.set("b", 2)
    clock.now = 6
    cache.set("c", 3)
    assert "b" in cache and "c" in cache
    assert cache.stats.evictions == 0


def test_invalid_arguments():
    with pytest.raises(ValueError):
        TTLCache(0, 1)
