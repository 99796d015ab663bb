"""Durable delivery of messages the user did not ask for at that moment: agent replies, notices.

Each channel registers a sender with the ``Delivery`` registry. A message is written to the
``outbox`` table first and marked delivered only when its channel's sender returned; a sender
that raises leaves it pending, and it is retried with backoff (``run()``, or ``flush()``)
until it goes through: never dropped. Messages of one conversation go out in order. Several
gateway replicas may flush at once: each message is claimed by one of them first
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL), and the claim is renewed just before the message
is sent, so a slow channel does not let it lapse: it is sent once. Claims are timed by the
database's clock (``Database.now``), never by a replica's own: a replica whose clock runs ahead
does not see another's claim as lapsed while it holds.

The REST channel has no way to push: its messages stay pending until the client fetches them
(``GET /api/messages/{sender_id}/pending``, or in the reply to its next POST), via ``take()``.

Usage::

    delivery = Delivery(store)
    delivery.register("telegram", telegram.push)   # async (conversation_id, messages) -> None
    await delivery.send("telegram:42", "telegram", [OutgoingMessage(text="Hi, Alice here")])
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from connectors.messages import Button, OutgoingMessage
from connectors.store import GatewayStore
from contracts.redaction import redact

logger = logging.getLogger("connectors")

Sender = Callable[[str, list[OutgoingMessage]], Awaitable[None]]

BASE_DELAY_SECONDS = 2.0
MAX_DELAY_SECONDS = 300.0
POLL_SECONDS = 1.0
# How long a replica may hold claimed messages before another may take them (it died).
# Each message's claim is renewed for this long just before it is sent, so it need outlast
# one send (with the channel's retries), not a whole batch.
CLAIM_SECONDS = 120.0
# Messages claimed at once: the ones a replica is not yet sending stay out of the others'
# reach until their claim lapses, so a batch is kept small.
CLAIM_BATCH = 50


class Delivery:
    """The outbox and the channels' senders.

    Args:
        store: the gateway's store (the ``outbox`` table).
        clock: seconds since the epoch: when messages were stored and when a retry is due
            (claims are timed by the database's clock).
        base_delay: the first retry waits this long; each further one twice as long.
        max_delay: the longest wait between two retries.
    """

    def __init__(
        self,
        store: GatewayStore,
        *,
        clock: Callable[[], float] = time.time,
        base_delay: float = BASE_DELAY_SECONDS,
        max_delay: float = MAX_DELAY_SECONDS,
    ) -> None:
        self.store = store
        self.clock = clock
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._senders: dict[str, Sender] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        # Who this replica is in the outbox's claims.
        self.claimant = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def register(self, channel: str, sender: Sender) -> None:
        """Make ``sender`` deliver the messages of ``channel`` (one sender per channel)."""
        self._senders[channel] = sender

    def can_push(self, channel: str) -> bool:
        """Whether ``channel`` has a sender (REST does not: its client fetches)."""
        return channel in self._senders

    async def send(
        self, conversation_id: str, channel: str, messages: list[OutgoingMessage]
    ) -> bool:
        """Store ``messages`` for the user, then try to deliver them now.

        Returns True when every pending message of the conversation went out, False when
        some wait for a retry or for the client to fetch them.
        """
        now = self.clock()
        await self.store._run(self._insert, conversation_id, channel, messages, now)
        await self.flush(conversation_id, force=True)
        return await self.pending(conversation_id) == 0

    async def flush(self, conversation_id: str | None = None, *, force: bool = False) -> int:
        """Try the pending messages that are due (all of them with ``force``); count delivered.

        The messages are claimed first (``_claim``), so a message is sent by one gateway
        replica even when several flush at once. Each claim is renewed just before its
        message is sent; one that lapsed meanwhile and was taken by another replica is left to
        it, with the rest of its conversation, so the order is kept.
        """
        async with self._lock:
            rows = await self.store._run(self._claim, conversation_id, force)
            delivered = 0
            blocked: set[str] = set()
            try:
                for row_id, conversation, channel, body, attempts in rows:
                    if conversation in blocked:
                        continue
                    if not await self.store._run(self._renew, row_id):
                        blocked.add(conversation)
                        logger.info(
                            "delivery to %s: message %d is no longer this replica's to send",
                            redact(conversation), row_id,
                        )  # fmt: skip
                        continue
                    try:
                        await self._senders[channel](conversation, [_message(body)])
                    except Exception as error:
                        # Later messages of this conversation wait too, so the order is kept.
                        blocked.add(conversation)
                        delay = min(self.max_delay, self.base_delay * 2**attempts)
                        logger.warning(
                            "delivery to %s (%s) failed: %s; retry %d in %.0f s",
                            redact(conversation), channel, error, attempts + 1, delay,
                        )  # fmt: skip
                        await self.store._run(
                            self._failed, row_id, self.clock() + delay, str(error)[:500]
                        )
                        continue
                    delivered += 1
                    if not await self.store._run(self._delivered, row_id):
                        # The send outlasted the claim; whoever holds the conversation now
                        # goes on with it.
                        blocked.add(conversation)
                        logger.warning(
                            "delivery to %s: message %d went out after this replica's claim "
                            "on it ended (it lapsed); another replica may send it again",
                            redact(conversation), row_id,
                        )  # fmt: skip
            finally:
                if rows:
                    await self.store._run(self._release)
            return delivered

    async def take(self, conversation_id: str) -> list[OutgoingMessage]:
        """The conversation's pending messages, oldest first, marked delivered (REST fetch)."""
        rows = await self.store._run(self._take, conversation_id)
        return [_message(body) for body in rows]

    async def newest(self, conversation_id: str) -> int:
        """The id of the conversation's latest stored message (0: none): a mark for
        ``mark_delivered`` taken before its history is read."""
        rows = await self.store._run(
            self.store._query,
            "SELECT COALESCE(MAX(id), 0) FROM outbox WHERE conversation_id = ?",
            (conversation_id,),
        )
        return int(rows[0][0])

    async def mark_delivered(self, conversation_id: str, *, up_to: int | None = None) -> int:
        """Mark pending messages of a conversation delivered without sending them.

        For the web chat: a reconnecting widget gets them in its ``session_history``, so only
        messages stored before that history was read count: those up to the ``newest`` id
        taken before reading it (a message's transcript line is written before its outbox
        row, and the rows are numbered in the order they are written). An id, not a time:
        the replicas' clocks may differ, the database's numbering does not.
        """
        bound = "" if up_to is None else " AND id <= ?"
        count: int = await self.store._run(
            self.store._execute,
            "UPDATE outbox SET delivered_at = ? WHERE conversation_id = ? "
            f"AND delivered_at IS NULL{bound}",
            (self.clock(), conversation_id, *(() if up_to is None else (up_to,))),
        )
        return count

    async def pending(self, conversation_id: str | None = None) -> int:
        """How many messages wait for delivery (of one conversation, or all)."""
        if conversation_id is None:
            rows = await self.store._run(
                self.store._query, "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL", ()
            )
        else:
            rows = await self.store._run(
                self.store._query,
                "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL AND conversation_id = ?",
                (conversation_id,),
            )
        return int(rows[0][0])

    def start(self, interval: float = POLL_SECONDS) -> None:
        """Retry pending messages in the background every ``interval`` seconds."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._retry_forever(interval), name="delivery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _retry_forever(self, interval: float) -> None:
        while True:
            try:
                await self.flush()
            except Exception:
                logger.exception("delivery retry pass failed; trying again")
            await asyncio.sleep(interval)

    # Blocking parts, run in a worker thread.

    def _insert(
        self, conversation_id: str, channel: str, messages: list[OutgoingMessage], now: float
    ) -> None:
        with self.store.transaction() as db:
            for message in messages:
                db.execute(
                    "INSERT INTO outbox (conversation_id, channel, body, created_at, "
                    "next_attempt_at) VALUES (?, ?, ?, ?, ?)",
                    (conversation_id, channel, json.dumps(_body(message)), now, now),
                )

    def _claim(
        self, conversation_id: str | None, force: bool
    ) -> list[tuple[int, str, str, str, int]]:
        """Claim the messages this replica may send now, in order.

        The candidates are the oldest pending messages no replica holds a claim on, locked
        with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite has one writer at a time), so two
        replicas never claim the same message and each finds work while the other sends. A
        conversation is taken from its oldest pending message on, and only when that message
        is due (or ``force``), and up to the first of its messages that is not a candidate
        (claimed, or being claimed, by another replica): messages of one conversation go out
        in order from one replica. A claim lapses after ``CLAIM_SECONDS`` of the database's
        clock (a replica that died, or a message that took too long to send).
        """
        channels = sorted(self._senders)
        if not channels:
            return []
        now = self.clock()
        database = self.store.database
        sql = (
            "SELECT id, conversation_id, channel, body, attempts, next_attempt_at FROM outbox "
            f"WHERE delivered_at IS NULL AND channel IN ({_marks(channels)}) "
            "AND (claimed_until IS NULL OR claimed_until <= ?)"
        )
        if conversation_id is not None:
            sql += " AND conversation_id = ?"
        sql += " ORDER BY id LIMIT ?" + database.skip_locked
        with database.unlocked() as db:
            claimed_at = database.now()
            params: list[Any] = [*channels, claimed_at]
            if conversation_id is not None:
                params.append(conversation_id)
            params.append(CLAIM_BATCH)
            locked = db.execute(sql, params).fetchall()
            if not locked:
                return []
            conversations = sorted({row[1] for row in locked})
            # Every pending message of those conversations up to the last candidate, whoever
            # holds it: a conversation's candidates count only as long as nothing comes between.
            pending: dict[str, list[int]] = {}
            for conversation, row_id in db.execute(
                "SELECT conversation_id, id FROM outbox WHERE delivered_at IS NULL "
                f"AND conversation_id IN ({_marks(conversations)}) AND id <= ? ORDER BY id",
                [*conversations, max(int(row[0]) for row in locked)],
            ).fetchall():
                pending.setdefault(conversation, []).append(int(row_id))
            chosen: list[tuple[Any, ...]] = []
            for conversation in conversations:
                mine = [row for row in locked if row[1] == conversation]
                if not force and mine[0][5] > now:
                    continue  # its oldest message is not due yet
                for row, expected in zip(mine, pending.get(conversation, []), strict=False):
                    if int(row[0]) != expected:
                        break  # an older message is in another replica's hands
                    chosen.append(row)
            if chosen:
                db.execute(
                    "UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE id IN "
                    f"({_marks(chosen)})",
                    [self.claimant, claimed_at + CLAIM_SECONDS, *(row[0] for row in chosen)],
                )
        chosen.sort(key=lambda row: int(row[0]))
        return [(int(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4])) for r in chosen]

    def _renew(self, row_id: int) -> bool:
        """Extend this replica's claim on a message about to be sent; False when the claim is
        gone (it lapsed and another replica took the message, or it was delivered)."""
        renewed = self.store._execute(
            "UPDATE outbox SET claimed_until = ? WHERE id = ? AND claimed_by = ? "
            "AND delivered_at IS NULL",
            (self.store.database.now() + CLAIM_SECONDS, row_id, self.claimant),
        )
        return renewed == 1

    def _failed(self, row_id: int, next_attempt_at: float, error: str) -> None:
        # Only while the claim is ours: a replica that took the message meanwhile keeps it.
        self.store._execute(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, "
            "claimed_by = NULL, claimed_until = NULL WHERE id = ? AND claimed_by = ?",
            (next_attempt_at, error, row_id, self.claimant),
        )

    def _delivered(self, row_id: int) -> bool:
        """Record that a message went out; False when this replica no longer held its claim."""
        now = self.clock()
        with self.store.database.unlocked() as db:
            ours = db.execute(
                "UPDATE outbox SET delivered_at = ?, claimed_by = NULL, claimed_until = NULL "
                "WHERE id = ? AND claimed_by = ? AND delivered_at IS NULL",
                (now, row_id, self.claimant),
            ).rowcount
            if ours == 1:
                return True
            # The message went out all the same: recorded, a replica that took it over and
            # has not sent it yet finds it delivered when it renews its claim, and skips it.
            db.execute(
                "UPDATE outbox SET delivered_at = ?, claimed_by = NULL, claimed_until = NULL "
                "WHERE id = ? AND delivered_at IS NULL",
                (now, row_id),
            )
        return False

    def _release(self) -> None:
        """Give back what this replica claimed and did not deliver (after a failure)."""
        self.store._execute(
            "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL "
            "WHERE claimed_by = ? AND delivered_at IS NULL",
            (self.claimant,),
        )

    def _take(self, conversation_id: str) -> list[str]:
        with self.store.transaction() as db:
            rows = db.execute(
                "SELECT id, body FROM outbox WHERE conversation_id = ? AND delivered_at IS NULL "
                "ORDER BY id",
                (conversation_id,),
            ).fetchall()
            db.execute(
                "UPDATE outbox SET delivered_at = ? WHERE conversation_id = ? "
                "AND delivered_at IS NULL",
                (self.clock(), conversation_id),
            )
        return [str(body) for _, body in rows]


def _marks(values: Collection[Any]) -> str:
    """One ``?`` placeholder per value, comma-separated."""
    return ", ".join("?" for _ in values)


def _body(message: OutgoingMessage) -> dict[str, Any]:
    return {
        "text": message.text,
        "buttons": [{"title": b.title, "payload": b.payload} for b in message.buttons],
        "image": message.image,
        "custom": message.custom,
    }


def _message(body: str) -> OutgoingMessage:
    data = json.loads(body)
    return OutgoingMessage(
        text=data.get("text"),
        buttons=[Button(title=b["title"], payload=b["payload"]) for b in data.get("buttons", [])],
        image=data.get("image"),
        custom=data.get("custom"),
    )
