"""Per-client rate limiting: one token bucket per client (an IP, an API key, a platform user),
in the process (`RateLimiter`) or in Redis, shared by every gateway replica
(`RedisRateLimiter`, RATE_LIMIT_REDIS_URL).

Keyed on who sends, not on the conversation id, so that a client cannot buy a fresh budget
by starting new conversations (new REST sender ids, new web sessions).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Protocol

logger = logging.getLogger("connectors")


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

    async def take(self, client: str) -> float:
        """`acquire`, as every limiter of the gateway is called (`Limiter`)."""
        return self.acquire(client)


class Limiter(Protocol):
    """What the turn path asks before a message goes on: 0.0, or seconds until allowed."""

    async def take(self, client: str) -> float: ...


# One token bucket per key, on the Redis server's clock (replicas' clocks may differ): refill
# since the last call, take a token if there is one, keep the bucket until it would be full.
_TAKE = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'last')
local tokens = tonumber(state[1]) or burst
local last = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - last) * rate)
local wait = 0
if tokens < 1 then
  wait = (1 - tokens) / rate
else
  tokens = tokens - 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'last', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return tostring(wait)
"""


class RedisRateLimiter:
    """The same token buckets in Redis, shared by every gateway replica.

    Keys are ``<prefix>:rate:<hash of the client>`` (no IP address or user id in Redis). When
    Redis cannot be reached the replica falls back to its own in-memory buckets (``local``)
    and says so in the log once per outage: limits per replica for a while rather than no
    answers at all.

    Example:
        >>> limiter = RedisRateLimiter("redis://u@127.0.0.1:6379/2", password="pw",
        ...                            prefix="acme", per_minute=60, burst=20)
        >>> await limiter.take("ip:203.0.113.7")
        0.0
    """

    def __init__(
        self, url: str, *, prefix: str, per_minute: int, burst: int, password: str = ""
    ) -> None:
        import redis.asyncio

        if per_minute < 1 or burst < 1:
            raise ValueError(f"per_minute and burst must be at least 1, got {per_minute}, {burst}")
        # A password in the URL wins over ``password``.
        self._redis = redis.asyncio.Redis.from_url(
            url, password=password or None, socket_timeout=1.0, socket_connect_timeout=1.0
        )
        self._script = self._redis.register_script(_TAKE)
        self._prefix = prefix
        self._rate = per_minute / 60.0
        self._burst = burst
        self.local = RateLimiter(per_minute=per_minute, burst=burst)
        self._down = False

    def key(self, client: str) -> str:
        return f"{self._prefix}:rate:{hashlib.sha256(client.encode()).hexdigest()[:32]}"

    async def take(self, client: str) -> float:
        import redis

        try:
            wait = await self._script(keys=[self.key(client)], args=[self._rate, self._burst])
        except redis.RedisError as error:
            if not self._down:
                logger.warning("rate limits are per replica until Redis answers again: %s",
                               error)  # fmt: skip
                self._down = True
            return self.local.acquire(client)
        if self._down:
            logger.info("rate limits are shared through Redis again")
            self._down = False
        return float(wait)

    async def close(self) -> None:
        await self._redis.aclose()
