"""Rate limits per app and dataset: a token bucket holding a minute's allowance (the grant's
rate), refilled continuously. In memory: one server process keeps its own counts."""

from __future__ import annotations

import math
import threading
import time


class RateLimiter:
    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # key → (tokens, when)

    def take(self, key: tuple[str, str], per_minute: int) -> int:
        """0 when the request may go ahead, else the seconds to wait (for Retry-After)."""
        now = self._clock()
        with self._lock:
            tokens, when = self._buckets.get(key, (float(per_minute), now))
            tokens = min(float(per_minute), tokens + (now - when) * per_minute / 60)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1 - tokens) * 60 / per_minute))
