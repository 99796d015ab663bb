"""The audit trail: every ERP read and write the assistant makes for a conversation.

One row per call: when, which conversation and channel, who asked (a customer, or staff
with their id), which verified customer it was for, what was done (the service function)
to which record, the outcome and how long it took. Personal data is minimised: no names,
emails, postcodes, phone numbers or anything else the customer typed; record numbers and
customer keys only.

Kept apart from the ERP (which the assistant may only read) and from the conversations (which
expire), in the action server's state database (erp/state.py): the SQLite file ``AUDIT_DB``
(default ``var/audit.db``), or the PostgreSQL database of ``ACTIONS_STATE_DATABASE_URL``, one
trail for every replica. Staff with shell access query it with ``python -m erp audit``.

Example:
    >>> trail = AuditTrail(Path("var/audit.db"))
    >>> trail.record(AuditEvent(conversation="web:1", channel="web", actor="customer",
    ...     customer="42", operation="orders.get_order_status", record="SO-100123",
    ...     outcome="ok", ms=3.1))
    >>> [e.record for e in trail.query(conversation="web:1")]
    ['SO-100123']
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, insert, select

from erp.settings import AUDIT_DB
from erp.state import (
    AUDIT_TABLES,
    audit_events,
    create_tables,
    make_state_engine,
    state_engine,
    transaction,
)

MAX_TEXT = 120
DEFAULT_LIMIT = 100
_TEXTS = ("conversation", "channel", "actor", "customer", "operation", "record", "outcome")


@dataclass(frozen=True)
class AuditEvent:
    """One ERP call made for a conversation. ``at`` is filled in when recorded."""

    conversation: str
    channel: str
    actor: str
    customer: str
    operation: str
    record: str
    outcome: str
    ms: float
    at: str = ""


class AuditTrail:
    """Appends and queries audit events; safe from several threads and processes (SQLite in
    WAL mode, or PostgreSQL shared by every replica, where events are in the order written).

    ``database``: a SQLite file, or an engine (`erp.state.state_engine`) the trail then owns.
    """

    def __init__(self, database: Path | Engine) -> None:
        self.engine = database if isinstance(database, Engine) else make_state_engine(database)
        create_tables(self.engine, AUDIT_TABLES)

    def close(self) -> None:
        """Close the engine's connections (the trail is not used after)."""
        self.engine.dispose()

    def record(self, event: AuditEvent) -> None:
        """Append one event (texts cut to a bounded length)."""
        at = event.at or datetime.now(UTC).isoformat(timespec="milliseconds")
        texts = {name: str(getattr(event, name))[:MAX_TEXT] for name in _TEXTS}
        with transaction(self.engine, write=True) as db:
            db.execute(insert(audit_events).values(**texts, ms=round(float(event.ms), 3), at=at))

    def query(
        self,
        *,
        conversation: str | None = None,
        customer: str | None = None,
        since: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> list[AuditEvent]:
        """Events matching every filter given, oldest first (the latest ``limit``)."""
        columns = audit_events.c
        wanted = [
            column == value
            for column, value in (
                (columns.conversation, conversation),
                (columns.customer, customer),
            )
            if value is not None
        ]
        if since is not None:
            wanted.append(columns.at >= since)
        statement = (
            select(*(columns[f.name] for f in fields(AuditEvent)))
            .where(*wanted)
            .order_by(columns.id.desc())
            .limit(max(1, min(limit, 10_000)))
        )
        with transaction(self.engine) as db:
            rows = db.execute(statement).all()
        return [AuditEvent(*row) for row in reversed(rows)]


@lru_cache(maxsize=1)
def audit_trail() -> AuditTrail:
    """The process's trail, opened at first use: in the PostgreSQL database of
    ``ACTIONS_STATE_DATABASE_URL`` when set, else at ``AUDIT_DB`` (default var/audit.db).

    Raises:
        StateSettingsError: ``ACTIONS_STATE_DATABASE_URL`` cannot be used.
        StateUnavailable: the database cannot be reached.
    """
    return AuditTrail(state_engine(AUDIT_DB.read(os.environ)))


class Stopwatch:
    """Milliseconds since it was started."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000
