"""Which web chat windows (Socket.IO sids) are connected to each conversation, on every replica.

One gateway process knows it from its Socket.IO rooms (`LocalPresence`). Several replicas
share it through Redis (`RedisPresence`): a sorted set ``<prefix>:presence:<conversation
key>`` of sids scored by their last heartbeat on the Redis server's clock. Each replica
refreshes its own live sids every ``refresh_every`` seconds; entries older than
``stale_after`` are ignored and pruned, so the windows of a replica that died without a word
(SIGKILL, a lost host) stop counting within ``stale_after`` seconds, and the whole set
expires once no replica refreshes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from typing import Any, Protocol

from connectors.errors import GatewayError

logger = logging.getLogger("connectors")

NAMESPACE = "/"


class PresenceUnknown(GatewayError):
    """The shared presence could not be read (Redis did not answer); says why."""


class Presence(Protocol):
    """Where a conversation's windows are connected, whichever replica holds them."""

    async def join(self, key: str, sid: str) -> None:
        """``sid``, connected to this replica, now shows conversation ``key`` (it leaves any
        other). Never raises: a window that could not be recorded is recorded later."""

    async def leave(self, sid: str) -> None:
        """``sid`` left this replica (disconnected). Never raises."""

    async def sids(self, key: str) -> list[str]:
        """Every sid showing ``key``, on every replica.

        Raises:
            PresenceUnknown: the shared presence could not be read.
        """

    async def close(self) -> None:
        """Forget this replica's windows and release connections."""


class LocalPresence:
    """One gateway process: the Socket.IO manager's own rooms are the presence.

    Example:
        >>> presence = LocalPresence(sio.manager)
        >>> await presence.sids("AAAAAAAAAAAAAAAAAAAAAA")
        []
    """

    def __init__(self, manager: Any) -> None:
        self._manager = manager

    async def join(self, key: str, sid: str) -> None:
        """Nothing to do: entering the room is the presence."""

    async def leave(self, sid: str) -> None:
        """Nothing to do: Socket.IO removes a disconnected sid from its rooms."""

    async def sids(self, key: str) -> list[str]:
        return [sid for sid, _ in self._manager.get_participants(NAMESPACE, key)]

    async def close(self) -> None:
        """Nothing to release."""


class RedisPresence:
    """Presence shared by the gateway's replicas through Redis.

    Args:
        url: ``redis://user@host:port/db``.
        prefix: keys are ``<prefix>:presence:<conversation key>``.
        password: the account's password, apart from the URL (one in the URL wins).
        connected: whether a sid is still connected to this replica; a sid recorded while
            it was already disconnecting is dropped at the next refresh.
        stale_after: seconds after its last heartbeat an entry stops counting.
        refresh_every: seconds between this replica's heartbeats (well under
            ``stale_after``).

    Example:
        >>> presence = RedisPresence("redis://u@127.0.0.1:6379/1", prefix="acme",
        ...                          password="pw", connected=lambda sid: True)
        >>> await presence.join("AAAAAAAAAAAAAAAAAAAAAA", "sid-1")
        >>> await presence.sids("AAAAAAAAAAAAAAAAAAAAAA")
        ['sid-1']
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        password: str = "",
        connected: Callable[[str], bool],
        stale_after: float = 30.0,
        refresh_every: float = 10.0,
    ) -> None:
        import redis.asyncio

        if not 0 < refresh_every < stale_after:
            raise ValueError(
                "refresh_every must be greater than 0 and less than stale_after, got "
                f"{refresh_every} and {stale_after}"
            )
        self._redis = redis.asyncio.Redis.from_url(
            url, password=password or None, socket_timeout=1.0, socket_connect_timeout=1.0
        )
        self._prefix = prefix
        self._connected = connected
        self.stale_after = stale_after
        self.refresh_every = refresh_every
        # This replica's windows: sid -> conversation key.
        self._local: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._shutting = False
        self._down = False

    def key(self, conversation_key: str) -> str:
        return f"{self._prefix}:presence:{conversation_key}"

    async def join(self, key: str, sid: str) -> None:
        import redis

        if self._shutting:
            return
        self._start()
        previous = self._local.get(sid)
        self._local[sid] = key
        try:
            if previous is not None and previous != key:
                await self._redis.zrem(self.key(previous), sid)
            await self._beat({key: [sid]})
        except redis.RedisError as error:
            # The next heartbeat that reaches Redis records it.
            self._outage(error)

    async def leave(self, sid: str) -> None:
        import redis

        key = self._local.pop(sid, None)
        if key is None or self._shutting:
            return
        try:
            await self._redis.zrem(self.key(key), sid)
        except redis.RedisError as error:
            # Its entry is no longer refreshed and stops counting after stale_after.
            self._outage(error)

    async def sids(self, key: str) -> list[str]:
        import redis

        if self._shutting:
            raise PresenceUnknown("the replica is shutting down")
        self._start()
        name = self.key(key)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.time()
                pipe.zrange(name, 0, -1, withscores=True)
                (seconds, micros), entries = await pipe.execute()
            cutoff = seconds + micros / 1e6 - self.stale_after
            live = [member.decode() for member, beat in entries if beat >= cutoff]
            if len(live) < len(entries):
                await self._redis.zremrangebyscore(name, "-inf", f"({cutoff}")
        except redis.RedisError as error:
            self._outage(error)
            raise PresenceUnknown(f"Redis did not answer: {error}") from error
        self._back()
        return live

    async def refresh(self) -> None:
        """One heartbeat: forget sids no longer connected here, stamp the others."""
        import redis

        for sid in [sid for sid in self._local if not self._connected(sid)]:
            await self.leave(sid)
        by_key: dict[str, list[str]] = {}
        for sid, key in self._local.items():
            by_key.setdefault(key, []).append(sid)
        if not by_key:
            return
        try:
            await self._beat(by_key)
        except redis.RedisError as error:
            self._outage(error)
        else:
            self._back()

    async def close(self) -> None:
        """Stop the heartbeats, remove this replica's entries and close the connection."""
        if self._task is None or self._task.done():
            await self._shut()
            return
        if not self._shutting:
            # Cancelled once only: a second cancel would interrupt the cleanup itself.
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _beat(self, by_key: dict[str, list[str]]) -> None:
        seconds, micros = await self._redis.time()
        now = seconds + micros / 1e6
        async with self._redis.pipeline(transaction=False) as pipe:
            for key, sids in by_key.items():
                pipe.zadd(self.key(key), dict.fromkeys(sids, now))
                # Outlives its newest entry by nothing: gone once no replica refreshes it.
                pipe.expire(self.key(key), math.ceil(self.stale_after))
            await pipe.execute()

    def _start(self) -> None:
        if self._task is None and not self._shutting:
            self._task = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def _refresh_forever(self) -> None:
        # Cancelled by close(), or with every other task when the server's event loop ends
        # (the gateway has no other shutdown hook for the web channel): clean up either way.
        try:
            while True:
                await asyncio.sleep(self.refresh_every)
                try:
                    await self.refresh()
                except Exception:
                    # Redis errors are handled inside; anything else must not stop the
                    # heartbeats, or every window of this replica would stop counting.
                    logger.exception("web chat presence heartbeat failed; trying again")
        finally:
            await self._shut()

    async def _shut(self) -> None:
        import redis

        if self._shutting:
            return
        self._shutting = True
        gone, self._local = self._local, {}
        by_key: dict[str, list[str]] = {}
        for sid, key in gone.items():
            by_key.setdefault(key, []).append(sid)
        try:
            if by_key:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for key, sids in by_key.items():
                        pipe.zrem(self.key(key), *sids)
                    await pipe.execute()
        except redis.RedisError as error:
            logger.info("web chat presence not cleared on shutdown (stale soon): %s", error)
        finally:
            await self._redis.aclose()

    def _outage(self, error: Exception) -> None:
        if not self._down:
            logger.warning("web chat presence unknown until Redis answers again: %s", error)
            self._down = True

    def _back(self) -> None:
        if self._down:
            logger.info("web chat presence shared through Redis again")
            self._down = False
