"""Per-sender rate limiting: one token bucket per conversation id, shared by every channel."""

from __future__ import annotations

import time
from collections.abc import Callable


class RateLimiter:
    """Token buckets keyed by sender: ``burst`` messages at once, refilled at ``per_minute``.

    Example:
        >>> limiter = RateLimiter(per_minute=60, burst=2)
        >>> limiter.acquire("web:abc"), limiter.acquire("web:abc"), limiter.acquire("web:abc") > 0
        (0.0, 0.0, True)
    """

    def __init__(
        self,
        *,
        per_minute: int,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_senders: int = 100_000,
    ) -> None:
        if per_minute < 1 or burst < 1:
            raise ValueError(f"per_minute and burst must be at least 1, got {per_minute}, {burst}")
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._max_senders = max_senders
        self._buckets: dict[str, tuple[float, float]] = {}

    def acquire(self, sender_id: str) -> float:
        """Take one token for ``sender_id``: 0.0 if allowed, else seconds until one is free."""
        now = self._clock()
        tokens, last = self._buckets.get(sender_id, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens < 1.0:
            self._buckets[sender_id] = (tokens, now)
            return (1.0 - tokens) / self._rate
        if sender_id not in self._buckets and len(self._buckets) >= self._max_senders:
            self._forget_full_buckets(now)
        self._buckets[sender_id] = (tokens - 1.0, now)
        return 0.0

    def _forget_full_buckets(self, now: float) -> None:
        """Drop senders whose bucket has refilled: they are indistinguishable from new ones."""
        self._buckets = {
            sender: (tokens, last)
            for sender, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * self._rate < self._burst
        }
