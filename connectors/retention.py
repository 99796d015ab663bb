"""How long the gateway keeps what it stores, and the pass that forgets the rest.

Without limits the gateway's database grows with every message for ever. Kept as long as
configured (days; 0 keeps for ever):

| what | setting | default |
|---|---|---|
| transcripts (not those of a conversation with an open handoff) | GATEWAY_TRANSCRIPT_DAYS | 90 |
| delivered outbox rows (undelivered ones always stay) | GATEWAY_OUTBOX_DAYS | 7 |
| platform event ids seen (Telegram/Slack retries come within minutes) | fixed | 2 |
| long button payloads (Telegram callbacks of older messages stop working) | fixed | 30 |

The pass runs when the gateway starts and every hour (``RetentionTask``), on every replica.
It deletes in batches of ``BATCH_ROWS``, each a short transaction of its own that does not
take the gateway-wide lock (``Database.unlocked``): a pass with a backlog of
millions of rows never holds up the replicas' writes for long.

Example:
    >>> removed = prune(store, Retention(transcript_days=30), now=time.time())
    >>> removed["transcript"]
    12
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from connectors.store import GatewayStore

logger = logging.getLogger("connectors")

DAY_SECONDS = 86_400.0
INTERVAL_SECONDS = 3600.0
EVENT_ID_DAYS = 2.0
BUTTON_DAYS = 30.0
# Rows one DELETE removes at most: its locks are held for a moment, not for the whole pass.
BATCH_ROWS = 1000
# A breath between two full batches, so writers waiting for the database get in.
BATCH_PAUSE_SECONDS = 0.01


@dataclass(frozen=True)
class Retention:
    """Days each kind of row is kept; 0: for ever."""

    transcript_days: float = 90.0
    outbox_days: float = 7.0


def prune(
    store: GatewayStore, retention: Retention, *, now: float, batch: int = BATCH_ROWS
) -> dict[str, int]:
    """Delete what is older than ``retention`` allows; rows removed per table.

    Each table is pruned by DELETEs of at most ``batch`` rows, each in its own transaction
    without the gateway-wide lock, until one removes fewer. Another replica pruning at the
    same time is harmless: a row is deleted once, whoever gets it.

    Blocking: run it in a worker thread (``await store._run(prune, ...)``).
    """
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")

    def before(days: float) -> float | None:
        return None if days <= 0 else now - days * DAY_SECONDS

    removed: dict[str, int] = {}
    if (cutoff := before(retention.transcript_days)) is not None:
        removed["transcript"] = _delete(
            store, "transcript", "id",
            "created_at < ? AND conversation_id NOT IN "
            "(SELECT conversation_id FROM handoffs WHERE status IN ('waiting', 'assigned'))",
            (cutoff,), batch,
        )  # fmt: skip
    if (cutoff := before(retention.outbox_days)) is not None:
        removed["outbox"] = _delete(
            store, "outbox", "id", "delivered_at IS NOT NULL AND delivered_at < ?",
            (cutoff,), batch,
        )  # fmt: skip
    removed["processed_events"] = _delete(
        store, "processed_events", "event_id", "received_at < ?",
        (now - EVENT_ID_DAYS * DAY_SECONDS,), batch,
    )  # fmt: skip
    removed["button_payloads"] = _delete(
        store, "button_payloads", "key", "created_at < ?",
        (now - BUTTON_DAYS * DAY_SECONDS,), batch,
    )  # fmt: skip
    return removed


def _delete(
    store: GatewayStore, table: str, key: str, where: str, params: Sequence[Any], batch: int
) -> int:
    """Delete the rows of ``table`` that match ``where``, ``batch`` at a time (by their primary
    ``key``); how many went."""
    total = 0
    while True:
        with store.database.unlocked() as db:
            count = db.execute(
                f"DELETE FROM {table} WHERE {key} IN "
                f"(SELECT {key} FROM {table} WHERE {where} LIMIT ?)",
                (*params, batch),
            ).rowcount
        total += count
        if count < batch:
            return total
        time.sleep(BATCH_PAUSE_SECONDS)


class RetentionTask:
    """Runs `prune` now and then every ``interval`` seconds until stopped."""

    def __init__(
        self, store: GatewayStore, retention: Retention, *, interval: float = INTERVAL_SECONDS
    ) -> None:
        self.store = store
        self.retention = retention
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._forever(), name="retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def run_once(self) -> dict[str, int]:
        removed = await self.store._run(lambda: prune(self.store, self.retention, now=time.time()))
        if any(removed.values()):
            logger.info(
                "retention: removed %s",
                ", ".join(f"{count} {table}" for table, count in removed.items() if count),
            )
        return removed

    async def _forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                logger.exception("retention pass failed; trying again later")
            await asyncio.sleep(self.interval)
