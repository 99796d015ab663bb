"""Failed verification guesses, counted per record and per client across conversations.

The per-question limit (three tries, slot ``verification_attempts``) lives in the tracker,
which a client can restart with a new sender id. These counters live on the action server's
side, in SQLite (``ACTIONS_STATE_DB``, default ``var/actions-state.db``), keyed by what is
guessed at (an order or invoice number, an email address, a customer) and by who guesses
(the gateway's ``client`` key): too many failures lock the key for a while, whatever
conversation the next guess comes from. A guess counts from the moment it is checked (a
burst sent at once gets no more checks than the limit); a right one is then taken back out,
but resets nothing else, so a customer's own verification never gives someone guessing at
their record fresh tries.

Keys are stored as SHA-256 digests: no email address or IP address is in the file as text.

Example:
    >>> store = LockoutStore(Path("var/actions-state.db"), LockoutPolicy.from_env({}))
    >>> attempt = store.begin(record="order:SO-100123", client="ip:10.0.0.7", now=1e9)
    >>> store.fail(attempt, now=1e9) is None  # a wrong guess, the first: no lock yet
    True
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE_DB_ENV = "ACTIONS_STATE_DB"
DEFAULT_STATE_DB = ROOT / "var" / "actions-state.db"
RECORD, CLIENT = "record", "client"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS failures (key TEXT NOT NULL, at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS failures_by_key ON failures (key, at)",
    "CREATE TABLE IF NOT EXISTS locks (key TEXT PRIMARY KEY, until REAL NOT NULL)",
)


@dataclass(frozen=True)
class Limit:
    """``failures`` within ``window_s`` seconds lock the key for ``lock_s`` seconds."""

    failures: int
    window_s: float
    lock_s: float


@dataclass(frozen=True)
class LockoutPolicy:
    """The limits per record (a number, an email) and per client (a person, an address).

    | variable | default | what |
    |---|---|---|
    | LOCKOUT_RECORD_FAILURES / _WINDOW_SECONDS / _SECONDS | 5 / 900 / 900 | per record |
    | LOCKOUT_CLIENT_FAILURES / _WINDOW_SECONDS / _SECONDS | 10 / 3600 / 3600 | per client |
    """

    record: Limit
    client: Limit

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LockoutPolicy:
        """The policy from ``LOCKOUT_*`` variables; a bad value raises with its name."""
        env = os.environ if environ is None else environ

        def limit(kind: str, failures: int, window_s: int, lock_s: int) -> Limit:
            prefix = f"LOCKOUT_{kind.upper()}"
            return Limit(
                failures=_positive(env, f"{prefix}_FAILURES", failures),
                window_s=float(_positive(env, f"{prefix}_WINDOW_SECONDS", window_s)),
                lock_s=float(_positive(env, f"{prefix}_SECONDS", lock_s)),
            )

        return cls(record=limit(RECORD, 5, 900, 900), client=limit(CLIENT, 10, 3600, 3600))


@dataclass(frozen=True)
class Attempt:
    """A guess being checked: the failure rows it added, taken back if it was right."""

    record: str | None
    client: str
    rows: tuple[int, ...]


@dataclass(frozen=True)
class Lock:
    """A key that is locked: ``kind`` is "record" or "client", ``until`` a Unix time."""

    kind: str
    until: float


class LockoutStore:
    """Counts failures and keeps locks in one SQLite file shared by every worker.

    Every method opens its own short connection, so calls from several threads (the
    actions run them with ``asyncio.to_thread``) never share one; WAL and a busy timeout
    let them write one after another without errors.
    """

    def __init__(self, path: Path, policy: LockoutPolicy) -> None:
        self.path = path
        self.policy = policy
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as db:
            db.execute("PRAGMA journal_mode=WAL")
            for statement in _SCHEMA:
                db.execute(statement)

    def lock_on(self, *, record: str | None, client: str, now: float) -> Lock | None:
        """The lock on this record or this client at ``now`` (the later one), or None."""
        with self._connection() as db:
            return self._active_lock(db, record=record, client=client, now=now)

    def begin(self, *, record: str | None, client: str, now: float) -> Attempt | Lock:
        """Start a guess at ``record`` by ``client``: the lock in the way, or the attempt.

        The attempt counts as a failure from this moment, so a burst of guesses sent at
        once cannot all pass before the first is counted; `withdraw` takes a right guess
        back out, `fail` keeps a wrong one and says whether it locked anything.
        """
        with self._transaction(now) as db:
            lock = self._active_lock(db, record=record, client=client, now=now)
            if lock is not None:
                return lock
            for kind, key, limit in self._keys(record, client):
                if self._count(db, key, limit, now) >= limit.failures:
                    return self._lock(db, kind, key, limit, now)
            rows = tuple(
                int(
                    db.execute(
                        "INSERT INTO failures (key, at) VALUES (?, ?) RETURNING rowid", (key, now)
                    ).fetchone()[0]
                )
                for _, key, _ in self._keys(record, client)
            )
        return Attempt(record=record, client=client, rows=rows)

    def fail(self, attempt: Attempt, *, now: float) -> Lock | None:
        """The attempt was a wrong guess: the lock it caused on its record or client, if any."""
        caused: Lock | None = None
        with self._transaction(now) as db:
            for kind, key, limit in self._keys(attempt.record, attempt.client):
                if self._count(db, key, limit, now) >= limit.failures:
                    lock = self._lock(db, kind, key, limit, now)
                    if caused is None or lock.until > caused.until:
                        caused = lock
        return caused

    def withdraw(self, attempt: Attempt) -> None:
        """The attempt was right (or never checked): it is no failure. Others' stay counted."""
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("DELETE FROM failures WHERE rowid = ?", [(r,) for r in attempt.rows])
            db.execute("COMMIT")

    def _keys(self, record: str | None, client: str) -> list[tuple[str, str, Limit]]:
        keys = [(CLIENT, _digest(CLIENT, client), self.policy.client)]
        if record is not None:
            keys.insert(0, (RECORD, _digest(RECORD, record), self.policy.record))
        return keys

    def _active_lock(
        self, db: sqlite3.Connection, *, record: str | None, client: str, now: float
    ) -> Lock | None:
        found: Lock | None = None
        for kind, key, _ in self._keys(record, client):
            row = db.execute(
                "SELECT until FROM locks WHERE key = ? AND until > ?", (key, now)
            ).fetchone()
            if row is not None and (found is None or row[0] > found.until):
                found = Lock(kind, float(row[0]))
        return found

    @staticmethod
    def _count(db: sqlite3.Connection, key: str, limit: Limit, now: float) -> int:
        (count,) = db.execute(
            "SELECT count(*) FROM failures WHERE key = ? AND at > ?", (key, now - limit.window_s)
        ).fetchone()
        return int(count)

    @staticmethod
    def _lock(db: sqlite3.Connection, kind: str, key: str, limit: Limit, now: float) -> Lock:
        until = now + limit.lock_s
        db.execute(
            "INSERT INTO locks (key, until) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET until = max(until, excluded.until)",
            (key, until),
        )
        # A lock starts the count again: after it, the full number of tries.
        db.execute("DELETE FROM failures WHERE key = ?", (key,))
        return Lock(kind, until)

    @contextmanager
    def _transaction(self, now: float) -> Iterator[sqlite3.Connection]:
        """One write transaction, after dropping failures and locks too old to matter."""
        oldest = now - max(self.policy.record.window_s, self.policy.client.window_s)
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM failures WHERE at < ?", (oldest,))
            db.execute("DELETE FROM locks WHERE until <= ?", (now,))
            yield db
            db.execute("COMMIT")

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        # isolation_level=None: the transactions are the explicit BEGIN/COMMIT above.
        with closing(sqlite3.connect(self.path, timeout=10.0, isolation_level=None)) as db:
            try:
                yield db
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise


@lru_cache(maxsize=1)
def lockout_store() -> LockoutStore:
    """The process's store, created at first use from ``ACTIONS_STATE_DB`` and ``LOCKOUT_*``."""
    path = Path(os.environ.get(STATE_DB_ENV) or DEFAULT_STATE_DB)
    return LockoutStore(path, LockoutPolicy.from_env())


def _digest(kind: str, key: str) -> str:
    return hashlib.sha256(f"{kind}\0{key}".encode()).hexdigest()


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be greater than 0, got {value}")
    return value
