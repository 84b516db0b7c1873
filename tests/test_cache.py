"""The least-recently-used store behind repeated questions."""

from service.cache import LruCache


def test_the_least_recently_used_entry_makes_room() -> None:
    cache = LruCache[str](2)
    cache.put("a", "A")
    cache.put("b", "B")
    assert cache.get("a") == "A"  # now b is the oldest
    cache.put("c", "C")
    assert cache.get("b") is None and cache.get("a") == "A" and cache.get("c") == "C"
    assert len(cache) == 2 and (cache.hits, cache.misses) == (3, 1)


def test_capacity_zero_keeps_nothing() -> None:
    cache = LruCache[int](0)
    cache.put("a", 1)
    assert cache.get("a") is None and len(cache) == 0
