"""Queue events between gateway replicas: an agent on replica A sees the handoff a customer on
replica B opened, the messages B received, the claims and resolutions made on B.

Each replica writes the events it publishes to the ``handoff_events`` table and wakes the others
with PostgreSQL's ``NOTIFY`` (sent when that write commits). A replica listens on its own
connection, reads the rows after the last one it saw and hands those of other replicas to its
local subscribers (the console's event streams). The table, not the notification, carries the
event: a notification missed while PostgreSQL restarted is made up by the next read (every
``POLL_SECONDS`` too), and events keep their order because they are written under the store's
serialising lock. Rows older than ``KEEP_SECONDS`` are pruned.

A row holds a reference to the event, never its content (``EventRef``: the kind, the handoff's
id, the transcript ids of its messages): the receiving replica reads the handoff and the
messages from the queue's own tables, so no slot, summary or message is copied into this table
(personal data lives, and is pruned, in one place). A relayed event therefore carries the
handoff as it is when read, which may already be later than the event. Rows written by an
older gateway version (the whole handoff in the row) are skipped.

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
from typing import TYPE_CHECKING, NotRequired, TypedDict, TypeGuard

from connectors.database import PostgresDatabase
from connectors.errors import StoreUnavailable

if TYPE_CHECKING:
    from connectors.handoff.queue import QueueEvent
    from connectors.store import GatewayStore

logger = logging.getLogger("connectors")

CHANNEL = "gateway_handoff_events"
POLL_SECONDS = 5.0
KEEP_SECONDS = 3600.0
RECONNECT_SECONDS = 2.0
APPLICATION_NAME = "gateway-handoff-events"  # the listening connections, in pg_stat_activity
_REF_KEYS = {"type", "handoff_id", "message_id", "pending_ids"}


class EventRef(TypedDict):
    """What a ``handoff_events`` row holds of a queue event: ids, nothing a person wrote."""

    type: str
    handoff_id: int
    # The transcript row of a ``message`` event's message.
    message_id: NotRequired[int]
    # The transcript rows of a ``claimed`` event's ``pending`` messages, in order.
    pending_ids: NotRequired[list[int]]


class EventRelay:
    """Sends this replica's queue events to the others and receives theirs.

    Args:
        store: the gateway's store; relaying happens only on PostgreSQL.
        deliver: hands an event of another replica to this replica's subscribers.
        resolve: reads the event a reference stands for from the queue's tables; None when
            it cannot be had any more (blocking: it runs in a worker thread).
    """

    def __init__(
        self,
        store: GatewayStore,
        deliver: Callable[[QueueEvent], None],
        resolve: Callable[[EventRef], QueueEvent | None],
    ) -> None:
        self.store = store
        self.deliver = deliver
        self.resolve = resolve
        self.origin = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._outgoing: asyncio.Queue[EventRef] | None = None
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

    def publish(self, ref: EventRef) -> None:
        """Queue the event ``ref`` stands for for the other replicas (written in order by one
        task)."""
        if self._outgoing is not None:
            self._outgoing.put_nowait(ref)

    async def catch_up(self) -> int:
        """Hand over the events other replicas wrote since the last read; how many."""
        newest, events = await self.store._run(self._read, self._seen)
        self._seen = max(self._seen, newest)
        for event in events:
            self.deliver(event)
        return len(events)

    # Background work.

    async def _send_forever(self) -> None:
        assert self._outgoing is not None
        while True:
            body = json.dumps(await self._outgoing.get())
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

    def _read(self, seen: int) -> tuple[int, list[QueueEvent]]:
        """The newest row id after ``seen``, and the events other replicas wrote in the rows
        up to it, read back from the queue's tables, in order.

        A row that cannot be read (another format, a handoff gone) is logged and skipped; the
        database being out of reach raises, and the same rows are read again next time.
        """
        newest, events = seen, []
        rows = self.store._query(
            "SELECT id, origin, body FROM handoff_events WHERE id > ? ORDER BY id", (seen,)
        )
        for row_id, origin, body in rows:
            newest = max(newest, int(row_id))
            if origin == self.origin:
                continue
            ref = reference(str(body))
            if ref is None:
                # Written by an older gateway version (the whole event) or by no gateway.
                logger.info("handoff event %s from another replica is no event reference; "
                            "skipped", row_id)  # fmt: skip
                continue
            try:
                event = self.resolve(ref)
            except StoreUnavailable:
                raise
            except Exception:
                logger.exception("handoff event %s from another replica could not be read", row_id)
                continue
            if event is not None:
                events.append(event)
        return newest, events


def reference(body: str) -> EventRef | None:
    """The ``EventRef`` a ``handoff_events`` row holds; None when the row holds something else
    (the whole event, as gateway versions before the references wrote it).

    Example:
        >>> reference('{"type": "message", "handoff_id": 3, "message_id": 41}')
        {'type': 'message', 'handoff_id': 3, 'message_id': 41}
    """
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or not data.keys() <= _REF_KEYS:
        return None
    kind, handoff_id = data.get("type"), data.get("handoff_id")
    if not isinstance(kind, str) or not _is_id(handoff_id):
        return None
    ref = EventRef(type=kind, handoff_id=handoff_id)
    if "message_id" in data:
        if not _is_id(data["message_id"]):
            return None
        ref["message_id"] = data["message_id"]
    if "pending_ids" in data:
        pending = data["pending_ids"]
        if not isinstance(pending, list) or not all(_is_id(value) for value in pending):
            return None
        ref["pending_ids"] = pending
    return ref


def _is_id(value: object) -> TypeGuard[int]:
    return type(value) is int  # not a bool, nor a float
