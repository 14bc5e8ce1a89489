"""Per-user token-bucket rate limits (in process).

A bucket holds ``limit`` tokens and refills at ``limit / period`` tokens per
second; each request takes one. An empty bucket raises
:class:`~floorguard.exceptions.RateLimitedError` with the whole seconds until
the next token, which the error handler sends as ``Retry-After``.

The buckets live in the process: behind several workers each worker enforces
the limit on its own (documented in the README's deployment notes).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from floorguard.exceptions import RateLimitedError

__all__ = ["RateLimiter"]


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by ``(user_id, action)``.

    Parameters
    ----------
    limit : int
        Requests allowed per ``period`` (also the burst size). ``<= 0`` disables.
    period_seconds : float
        Window length in seconds (60 for "per minute").
    clock : callable, optional
        Monotonic clock in seconds (tests pass a fake one).
    """

    def __init__(
        self,
        limit: int,
        period_seconds: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = int(limit)
        self.period = float(period_seconds)
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[object, str], _Bucket] = {}

    def hit(self, key: object, action: str = "quote") -> None:
        """Take one token for ``key``; raise ``RateLimitedError`` if none is left."""
        if self.limit <= 0:
            return
        rate = self.limit / self.period
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get((key, action))
            if bucket is None:
                bucket = _Bucket(tokens=float(self.limit), updated=now)
                self._buckets[(key, action)] = bucket
            bucket.tokens = min(float(self.limit), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return
            wait = (1.0 - bucket.tokens) / rate
        raise RateLimitedError(
            f"{action} rate limit of {self.limit} per {self.period:g} s reached; "
            f"retry in {math.ceil(wait)} s",
            retry_after=max(1, math.ceil(wait)),
        )
