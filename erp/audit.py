"""The audit trail: every ERP read and write the assistant makes for a conversation.

One row per call: when, which conversation and channel, who asked (a customer, or staff
with their id), which verified customer it was for, what was done (the service function)
to which record, the outcome and how long it took. Personal data is minimised: no names,
emails, postcodes, phone numbers or anything else the customer typed; record numbers and
customer keys only.

Kept in SQLite (``AUDIT_DB``, default ``var/audit.db``), apart from the ERP (which the
assistant may only read) and from the conversations (which expire). Staff with shell access
query it with ``python -m erp audit``.

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
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AUDIT_DB_ENV = "AUDIT_DB"
DEFAULT_AUDIT_DB = ROOT / "var" / "audit.db"
MAX_TEXT = 120
DEFAULT_LIMIT = 100

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS audit_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        conversation TEXT NOT NULL,
        channel TEXT NOT NULL,
        actor TEXT NOT NULL,
        customer TEXT NOT NULL,
        operation TEXT NOT NULL,
        record TEXT NOT NULL,
        outcome TEXT NOT NULL,
        ms REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS audit_by_conversation ON audit_events (conversation, at)",
    "CREATE INDEX IF NOT EXISTS audit_by_customer ON audit_events (customer, at)",
)


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
    """Appends and queries audit events; safe from several threads and processes (WAL)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as db:
            for statement in _SCHEMA:
                db.execute(statement)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=10)) as db:
            db.execute("PRAGMA journal_mode=WAL")
            with db:
                yield db

    def record(self, event: AuditEvent) -> None:
        """Append one event (texts cut to a bounded length)."""
        at = event.at or datetime.now(UTC).isoformat(timespec="milliseconds")
        values = [str(getattr(event, f.name))[:MAX_TEXT] for f in fields(AuditEvent)[:7]]
        with self._connection() as db:
            db.execute(
                "INSERT INTO audit_events (conversation, channel, actor, customer, operation, "
                "record, outcome, ms, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, round(float(event.ms), 3), at),
            )

    def query(
        self,
        *,
        conversation: str | None = None,
        customer: str | None = None,
        since: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> list[AuditEvent]:
        """Events matching every filter given, oldest first (the latest ``limit``)."""
        clauses, params = [], []
        for column, value in (("conversation", conversation), ("customer", customer)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            clauses.append("at >= ?")
            params.append(since)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._connection() as db:
            rows = db.execute(
                "SELECT conversation, channel, actor, customer, operation, record, outcome, ms, "
                f"at FROM audit_events {where} ORDER BY id DESC LIMIT ?",
                (*params, max(1, min(limit, 10_000))),
            ).fetchall()
        return [AuditEvent(*row) for row in reversed(rows)]


@lru_cache(maxsize=1)
def audit_trail() -> AuditTrail:
    """The process's trail at ``AUDIT_DB`` (default var/audit.db), opened at first use."""
    return AuditTrail(Path(os.environ.get(AUDIT_DB_ENV) or DEFAULT_AUDIT_DB))


class Stopwatch:
    """Milliseconds since it was started."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000
