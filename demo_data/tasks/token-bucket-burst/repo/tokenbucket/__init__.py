from tokenbucket.bucket import TokenBucket
from tokenbucket.clock import ManualClock, MonotonicClock

__all__ = ["ManualClock", "MonotonicClock", "TokenBucket"]
