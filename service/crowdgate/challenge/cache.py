"""A small per-process TTL cache for records read on every request (sites, projects)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

#: seconds a cached site, project or gold count is trusted before it is read again
DEFAULT_TTL_S = 2.0


class TTLCache(Generic[V]):
    """Remember ``load(key)`` for ``ttl_s`` seconds; bounded, thread-safe, misses not cached."""

    def __init__(
        self,
        load: Callable[[Hashable], V | None],
        ttl_s: float = DEFAULT_TTL_S,
        max_size: int = 10_000,
    ):
        self.load = load
        self.ttl_s = ttl_s
        self.max_size = max_size
        self._data: dict[Hashable, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        """Return the cached value, loading it when absent or older than the TTL."""
        now = time.monotonic()
        hit = self._data.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = self.load(key)
        if value is not None and self.ttl_s > 0:
            with self._lock:
                if len(self._data) >= self.max_size:
                    self._data.clear()
                self._data[key] = (now + self.ttl_s, value)
        return value

    def clear(self) -> None:
        """Forget everything (after a local write that must be seen at once)."""
        with self._lock:
            self._data.clear()
