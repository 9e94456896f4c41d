from ttlcache.cache import TTLCache
from ttlcache.stats import Stats

__all__ = ["Stats", "TTLCache"]
