"""Queue events between gateway replicas: an agent on replica A sees the handoff a customer on
replica B opened, the messages B received, the claims and resolutions made on B.

Each replica writes the events it publishes to the ``handoff_events`` table and wakes the others
with PostgreSQL's ``NOTIFY`` (sent when that write commits). A replica listens on its own
connection, reads the rows after the last one it saw and hands those of other replicas to its
local subscribers (the console's event streams). The table, not the notification, carries the
event: a notification missed while PostgreSQL restarted is made up by the next read (every
``POLL_SECONDS`` too), and events keep their order because they are written under the store's
serialising lock. Rows older than ``KEEP_SECONDS`` are pruned.

With SQLite there is one gateway process and nothing to relay.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from connectors.database import PostgresDatabase

if TYPE_CHECKING:
    from connectors.handoff.queue import QueueEvent
    from connectors.store import GatewayStore

logger = logging.getLogger("connectors")

CHANNEL = "gateway_handoff_events"
POLL_SECONDS = 5.0
KEEP_SECONDS = 3600.0
RECONNECT_SECONDS = 2.0
APPLICATION_NAME = "gateway-handoff-events"  # the listening connections, in pg_stat_activity


class EventRelay:
    """Sends this replica's queue events to the others and receives theirs.

    Args:
        store: the gateway's store; relaying happens only on PostgreSQL.
        deliver: hands an event of another replica to this replica's subscribers.
        decode: turns a stored event back into a ``QueueEvent``.
    """

    def __init__(
        self,
        store: GatewayStore,
        deliver: Callable[[QueueEvent], None],
        decode: Callable[[dict[str, Any]], QueueEvent],
    ) -> None:
        self.store = store
        self.deliver = deliver
        self.decode = decode
        self.origin = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._outgoing: asyncio.Queue[QueueEvent] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._seen = 0

    @property
    def enabled(self) -> bool:
        return isinstance(self.store.database, PostgresDatabase)

    async def start(self) -> None:
        if not self.enabled or self._tasks:
            return
        self._outgoing = asyncio.Queue()
        self._seen = await self.store._run(self._newest)
        self._tasks = [
            asyncio.create_task(self._send_forever(), name="handoff-events-out"),
            asyncio.create_task(self._listen_forever(), name="handoff-events-in"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def publish(self, event: QueueEvent) -> None:
        """Queue ``event`` for the other replicas (written in order by one task)."""
        if self._outgoing is not None:
            self._outgoing.put_nowait(event)

    async def catch_up(self) -> int:
        """Hand over the events other replicas wrote since the last read; how many."""
        rows = await self.store._run(self._after, self._seen)
        count = 0
        for row_id, origin, body in rows:
            self._seen = max(self._seen, int(row_id))
            if origin == self.origin:
                continue
            try:
                self.deliver(self.decode(json.loads(body)))
            except Exception:
                logger.exception("handoff event %s from another replica could not be read", row_id)
                continue
            count += 1
        return count

    # Background work.

    async def _send_forever(self) -> None:
        assert self._outgoing is not None
        while True:
            event = await self._outgoing.get()
            body = json.dumps(encode(event), default=str)
            for attempt in range(5):
                try:
                    await self.store._run(self._write, body)
                    break
                except Exception as error:
                    logger.warning("handoff event not relayed yet (%s); retry %d", error, attempt)
                    await asyncio.sleep(RECONNECT_SECONDS * (attempt + 1))

    async def _listen_forever(self) -> None:
        import psycopg

        database = self.store.database
        assert isinstance(database, PostgresDatabase)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    database.dsn(),
                    autocommit=True,
                    connect_timeout=10,
                    application_name=APPLICATION_NAME,
                ) as connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    await self.catch_up()
                    while True:
                        woken = False
                        async for _ in connection.notifies(timeout=POLL_SECONDS, stop_after=1):
                            woken = True
                        if not woken:
                            await connection.execute("SELECT 1")  # is it still there?
                        await self.catch_up()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning("handoff events from other replicas: %s; reconnecting", error)
                await asyncio.sleep(RECONNECT_SECONDS)

    # Blocking parts, run in a worker thread.

    def _write(self, body: str) -> None:
        now = time.time()
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO handoff_events (origin, body, created_at) VALUES (?, ?, ?)",
                (self.origin, body, now),
            )
            db.execute("DELETE FROM handoff_events WHERE created_at < ?", (now - KEEP_SECONDS,))
            db.execute(f"NOTIFY {CHANNEL}")

    def _newest(self) -> int:
        rows = self.store._query("SELECT COALESCE(MAX(id), 0) FROM handoff_events", ())
        return int(rows[0][0])

    def _after(self, seen: int) -> list[tuple[int, str, str]]:
        return [
            (int(row[0]), str(row[1]), str(row[2]))
            for row in self.store._query(
                "SELECT id, origin, body FROM handoff_events WHERE id > ? ORDER BY id", (seen,)
            )
        ]


def encode(event: QueueEvent) -> dict[str, Any]:
    """A queue event as JSON-ready data (the handoff as a plain dict)."""
    data: dict[str, Any] = dict(event)
    data["handoff"] = asdict(event["handoff"])
    return data
