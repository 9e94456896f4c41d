import pytest

from tokenbucket import ManualClock, TokenBucket


def make(rate=10, capacity=20):
    clock = ManualClock()
    return TokenBucket(rate, capacity, clock), clock


def test_starts_full():
    bucket, _ = make()
    assert sum(bucket.try_acquire() for _ in range(25)) == 20


def test_refills_at_rate():
    bucket, clock = make()
    for _ in range(20):
        bucket.try_acquire()
    clock.advance(0.5)
    assert sum(bucket.try_acquire() for _ in range(10)) == 5


def test_fractional_tokens_accumulate():
    bucket, clock = make(rate=1, capacity=5)
    for _ in range(5):
        bucket.try_acquire()
    clock.advance(0.4)
    assert not bucket.try_acquire()
    clock.advance(0.7)
    assert bucket.try_acquire()


def test_wait_time():
    bucket, clock = make(rate=2, capacity=2)
    bucket.try_acquire(2)
    assert bucket.wait_time() == pytest.approx(0.5)


def test_rejects_more_than_capacity():
    bucket, _ = make()
    with pytest.raises(ValueError):
        bucket.try_acquire(21)
