"""Rate limits: token buckets holding a minute's allowance, refilled continuously. Per app and
dataset (the grant's rate), and per client id on the token endpoint's failures (guessing). In
memory: one server process keeps its own counts."""

from __future__ import annotations

import math
import threading
import time

FAILED_LOGINS_PER_MINUTE = 10  # wrong secrets for one client id before it must wait


class RateLimiter:
    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # key → (tokens, when)

    def _level(self, key: tuple[str, str], per_minute: int, now: float) -> float:
        tokens, when = self._buckets.get(key, (float(per_minute), now))
        return min(float(per_minute), tokens + (now - when) * per_minute / 60)

    def take(self, key: tuple[str, str], per_minute: int) -> int:
        """0 when the request may go ahead (and counts it), else the seconds to wait (for
        Retry-After)."""
        now = self._clock()
        with self._lock:
            tokens = self._level(key, per_minute, now)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1 - tokens) * 60 / per_minute))

    def blocked(self, key: tuple[str, str], per_minute: int) -> int:
        """Like ``take`` but counting nothing: the seconds to wait, or 0."""
        with self._lock:
            tokens = self._level(key, per_minute, self._clock())
        return 0 if tokens >= 1 else max(1, math.ceil((1 - tokens) * 60 / per_minute))
