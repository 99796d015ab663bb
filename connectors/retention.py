"""How long the gateway keeps what it stores, and the pass that forgets the rest.

Without limits the gateway's database grows with every message for ever. Kept as long as
configured (days; 0 keeps for ever):

| what | setting | default |
|---|---|---|
| transcripts (not those of a conversation with an open handoff) | GATEWAY_TRANSCRIPT_DAYS | 90 |
| delivered outbox rows (undelivered ones always stay) | GATEWAY_OUTBOX_DAYS | 7 |
| platform event ids seen (Telegram/Slack retries come within minutes) | fixed | 2 |
| long button payloads (Telegram callbacks of older messages stop working) | fixed | 30 |

The pass runs when the gateway starts and every hour (``RetentionTask``).

Example:
    >>> removed = prune(store, Retention(transcript_days=30), now=time.time())
    >>> removed["transcript"]
    12
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from connectors.store import GatewayStore

logger = logging.getLogger("connectors")

DAY_SECONDS = 86_400.0
INTERVAL_SECONDS = 3600.0
EVENT_ID_DAYS = 2.0
BUTTON_DAYS = 30.0


@dataclass(frozen=True)
class Retention:
    """Days each kind of row is kept; 0: for ever."""

    transcript_days: float = 90.0
    outbox_days: float = 7.0


def prune(store: GatewayStore, retention: Retention, *, now: float) -> dict[str, int]:
    """Delete what is older than ``retention`` allows, in one transaction; rows per table.

    Blocking: run it in a worker thread (``await store._run(prune, ...)``).
    """

    def before(days: float) -> float | None:
        return None if days <= 0 else now - days * DAY_SECONDS

    removed: dict[str, int] = {}
    with store.transaction() as db:
        if (cutoff := before(retention.transcript_days)) is not None:
            removed["transcript"] = db.execute(
                "DELETE FROM transcript WHERE created_at < ? AND conversation_id NOT IN "
                "(SELECT conversation_id FROM handoffs WHERE status IN ('waiting', 'assigned'))",
                (cutoff,),
            ).rowcount
        if (cutoff := before(retention.outbox_days)) is not None:
            removed["outbox"] = db.execute(
                "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?",
                (cutoff,),
            ).rowcount
        removed["processed_events"] = db.execute(
            "DELETE FROM processed_events WHERE received_at < ?",
            (now - EVENT_ID_DAYS * DAY_SECONDS,),
        ).rowcount
        removed["button_payloads"] = db.execute(
            "DELETE FROM button_payloads WHERE created_at < ?", (now - BUTTON_DAYS * DAY_SECONDS,)
        ).rowcount
    return removed


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
