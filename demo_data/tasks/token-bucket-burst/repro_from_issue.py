"""A reproduction test written from this task's issue text alone (not from its hidden tests):
the simulated model's right answer to "write a test that reproduces this issue"."""

import time

from tokenbucket import TokenBucket


def test_reproduces_issue_no_burst_beyond_capacity_after_idle(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    bucket = TokenBucket(rate=10, capacity=20)
    now[0] += 60  # idle for a minute
    granted = sum(1 for _ in range(600) if bucket.try_acquire())
    assert granted == 20
