"""Per-client rate limiting: one token bucket per client (an IP, an API key, a platform user).

Keyed on who sends, not on the conversation id, so that a client cannot buy a fresh budget
by starting new conversations (new REST sender ids, new web sessions).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RateLimiter:
    """Token buckets keyed by client: ``burst`` messages at once, refilled at ``per_minute``.

    Example:
        >>> limiter = RateLimiter(per_minute=60, burst=2)
        >>> [limiter.acquire("ip:203.0.113.7") > 0 for _ in range(3)]
        [False, False, True]
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

    def acquire(self, client: str) -> float:
        """Take one token for ``client``: 0.0 if allowed, else seconds until one is free."""
        now = self._clock()
        tokens, last = self._buckets.get(client, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens < 1.0:
            self._buckets[client] = (tokens, now)
            return (1.0 - tokens) / self._rate
        if client not in self._buckets and len(self._buckets) >= self._max_senders:
            self._forget_full_buckets(now)
        self._buckets[client] = (tokens - 1.0, now)
        return 0.0

    def _forget_full_buckets(self, now: float) -> None:
        """Drop clients whose bucket has refilled: they are indistinguishable from new ones."""
        self._buckets = {
            client: (tokens, last)
            for client, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * self._rate < self._burst
        }
