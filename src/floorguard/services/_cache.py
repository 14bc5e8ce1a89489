"""Bounded, single-flight, content-keyed caches owned by an :class:`AppContext`.

The insurance engine recomputes, per quote, things that are the same for every
client: the regression betas of the bundled history, for instance. A
:class:`ContentCache` holds such results under a key made of *every* input
that affects them (symbols, index, data sources, the as-of date, ...), for at
most ``ttl`` seconds and at most ``size`` entries (least recently used
evicted first). Concurrent misses on one key wait for the computation in
flight instead of repeating it (single flight); a failed computation is not
cached, so the next caller computes again and sees the error itself.

Caches live in ``ctx.resources`` (:func:`context_cache`), so each application
context has its own and nothing is built at import time.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

__all__ = ["ContentCache", "context_cache"]

T = TypeVar("T")


class ContentCache(Generic[T]):
    """A thread-safe LRU cache with a time to live and single flight.

    Parameters
    ----------
    ttl : float
        Seconds an entry stays valid.
    size : int
        Maximum number of entries.
    """

    def __init__(self, ttl: float, size: int) -> None:
        if ttl <= 0 or size < 1:
            raise ValueError("ttl must be positive and size at least 1")
        self.ttl = float(ttl)
        self.size = int(size)
        self._lock = threading.Lock()
        self._done: OrderedDict[Hashable, tuple[float, T]] = OrderedDict()
        self._flight: dict[Hashable, threading.Event] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._done)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._done.clear()

    def peek(self, key: Hashable) -> T | None:
        """The fresh value for ``key``, or ``None``: never computes, never waits.

        For callers that must not block (an event loop): on ``None`` they go
        on to :meth:`get_or_compute` on a worker thread.
        """
        with self._lock:
            hit = self._done.get(key)
            if hit is None:
                return None
            if time.monotonic() - hit[0] > self.ttl:
                del self._done[key]
                return None
            self._done.move_to_end(key)
            self.hits += 1
            return hit[1]

    def put(self, key: Hashable, value: T) -> None:
        """Store ``value`` for ``key`` (fresh for ``ttl`` seconds from now)."""
        with self._lock:
            self._done[key] = (time.monotonic(), value)
            self._done.move_to_end(key)
            while len(self._done) > self.size:
                self._done.popitem(last=False)

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached value for ``key``, computing it (once) when missing or expired."""
        while True:
            with self._lock:
                hit = self._done.get(key)
                if hit is not None:
                    if time.monotonic() - hit[0] <= self.ttl:
                        self._done.move_to_end(key)
                        self.hits += 1
                        return hit[1]
                    del self._done[key]
                waiting = self._flight.get(key)
                if waiting is None:
                    event = threading.Event()
                    self._flight[key] = event
                    self.misses += 1
                    break
            waiting.wait(timeout=60.0)
        try:
            value = compute()
            with self._lock:
                self._done[key] = (time.monotonic(), value)
                while len(self._done) > self.size:
                    self._done.popitem(last=False)
            return value
        finally:
            with self._lock:
                self._flight.pop(key, None)
            event.set()


def context_cache(ctx: Any, name: str, *, ttl: float, size: int) -> ContentCache[Any]:
    """The :class:`ContentCache` called ``name`` in ``ctx.resources`` (made on first use)."""
    with ctx._lock:  # noqa: SLF001
        cache = ctx.resources.get(name)
        if cache is None:
            cache = ContentCache(ttl, size)
            ctx.resources[name] = cache
        return cache  # type: ignore[no-any-return]
