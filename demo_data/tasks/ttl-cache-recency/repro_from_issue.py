"""A reproduction test written from this task's issue text alone (not from its hidden tests):
the simulated model's right answer to "write a test that reproduces this issue"."""

from ttlcache import TTLCache


def test_reproduces_issue_read_counts_as_use():
    cache = TTLCache(maxsize=2, ttl=60)
    cache.set("a", 1)
    cache.set("b", 2)
    cache.get("a")
    cache.set("c", 3)
    assert cache.get("a") == 1
    assert cache.get("b") is None
