"""Failed verification guesses, counted per record and per client across conversations.

The per-question limit (three tries, slot ``verification_attempts``) lives in the tracker,
which a client can restart with a new sender id. These counters live on the action server's
side, in its state database (erp/state.py: the SQLite file ``ACTIONS_STATE_DB``, default
``var/actions-state.db``, or the PostgreSQL database of ``ACTIONS_STATE_DATABASE_URL`` that
every replica shares), keyed by what is guessed at (an order or invoice number, an email
address, a customer) and by who guesses (the gateway's ``client`` key): too many failures lock
the key for a while, whatever conversation or replica the next guess comes from. A guess
counts from the moment it is checked (a burst sent at once, to one replica or spread over
several, gets no more checks than the limit); a right one is then taken back out, but resets
nothing else, so a customer's own verification never gives someone guessing at their record
fresh tries.

Keys are stored as SHA-256 digests: no email address or IP address is in the database as text.

Example:
    >>> store = LockoutStore(Path("var/actions-state.db"), LockoutPolicy.from_env({}))
    >>> attempt = store.begin(record="order:SO-100123", client="ip:10.0.0.7", now=1e9)
    >>> store.fail(attempt, now=1e9) is None  # a wrong guess, the first: no lock yet
    True
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import (
    Column,
    Connection,
    Double,
    Engine,
    MetaData,
    String,
    Table,
    case,
    delete,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from actions.settings import Limit, LockoutPolicy, current_settings
from erp.state import (
    LOCKOUT_TABLES,
    create_tables,
    lockout_failures,
    lockout_locks,
    make_state_engine,
    serialise,
    state_engine,
    transaction,
)

RECORD, CLIENT = "record", "client"
# How often (in seconds of ``now``) a store drops failures and locks too old to matter.
TIDY_EVERY_SECONDS = 60.0

# The tables of files written before erp/state.py named them: adopted at first use.
_legacy = MetaData()
_legacy_failures = Table(
    "failures", _legacy, Column("key", String, nullable=False), Column("at", Double)
)
_legacy_locks = Table(
    "locks", _legacy, Column("key", String, primary_key=True), Column("until", Double)
)


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
    """Counts failures and keeps locks in the action server's state database, shared by every
    worker thread, and on PostgreSQL by every replica.

    Each call is one short transaction. A check and what it writes happen as one step for
    everyone counting the same keys: on SQLite a write transaction has the file to itself
    (BEGIN IMMEDIATE; WAL and a busy timeout let writers follow one another), on PostgreSQL
    it first takes advisory locks on the keys it counts (`erp.state.serialise`).

    ``database``: a SQLite file, or an engine (`erp.state.state_engine`) the store then owns.
    """

    def __init__(self, database: Path | Engine, policy: LockoutPolicy) -> None:
        self.engine = database if isinstance(database, Engine) else make_state_engine(database)
        self.policy = policy
        self._tidied: float | None = None
        create_tables(self.engine, LOCKOUT_TABLES)
        if self.engine.dialect.name == "sqlite":
            self._adopt_legacy_tables()

    def close(self) -> None:
        """Close the engine's connections (the store is not used after)."""
        self.engine.dispose()

    def lock_on(self, *, record: str | None, client: str, now: float) -> Lock | None:
        """The lock on this record or this client at ``now`` (the later one), or None."""
        with transaction(self.engine) as db:
            return self._active_lock(db, self._keys(record, client), now)

    def begin(self, *, record: str | None, client: str, now: float) -> Attempt | Lock:
        """Start a guess at ``record`` by ``client``: the lock in the way, or the attempt.

        The attempt counts as a failure from this moment, so a burst of guesses sent at
        once cannot all pass before the first is counted; `withdraw` takes a right guess
        back out, `fail` keeps a wrong one and says whether it locked anything.
        """
        self._tidy(now)
        keys = self._keys(record, client)
        with self._counting(keys) as db:
            lock = self._active_lock(db, keys, now)
            if lock is not None:
                return lock
            for kind, key, limit in keys:
                if self._count(db, key, limit, now) >= limit.failures:
                    return self._lock(db, kind, key, limit, now)
            rows = []
            for _, key, _ in keys:
                added = insert(lockout_failures).values(key=key, at=now)
                rows.append(int(db.execute(added.returning(lockout_failures.c.id)).scalar_one()))
        return Attempt(record=record, client=client, rows=tuple(rows))

    def fail(self, attempt: Attempt, *, now: float) -> Lock | None:
        """The attempt was a wrong guess: the lock it caused on its record or client, if any."""
        caused: Lock | None = None
        keys = self._keys(attempt.record, attempt.client)
        with self._counting(keys) as db:
            for kind, key, limit in keys:
                if self._count(db, key, limit, now) >= limit.failures:
                    lock = self._lock(db, kind, key, limit, now)
                    if caused is None or lock.until > caused.until:
                        caused = lock
        return caused

    def withdraw(self, attempt: Attempt) -> None:
        """The attempt was right (or never checked): it is no failure. Others' stay counted."""
        with self._counting(self._keys(attempt.record, attempt.client)) as db:
            db.execute(delete(lockout_failures).where(lockout_failures.c.id.in_(attempt.rows)))

    def _keys(self, record: str | None, client: str) -> list[tuple[str, str, Limit]]:
        keys = [(CLIENT, _digest(CLIENT, client), self.policy.client)]
        if record is not None:
            keys.insert(0, (RECORD, _digest(RECORD, record), self.policy.record))
        return keys

    @contextmanager
    def _counting(self, keys: list[tuple[str, str, Limit]]) -> Iterator[Connection]:
        """A write transaction that nobody else counting these keys runs at the same time."""
        with transaction(self.engine, write=True) as db:
            serialise(db, (key for _, key, _ in keys))
            yield db

    @staticmethod
    def _active_lock(db: Connection, keys: list[tuple[str, str, Limit]], now: float) -> Lock | None:
        active = select(lockout_locks.c.key, lockout_locks.c.until).where(
            lockout_locks.c.key.in_([key for _, key, _ in keys]), lockout_locks.c.until > now
        )
        locked = {key: until for key, until in db.execute(active)}
        found: Lock | None = None
        for kind, key, _ in keys:  # the record's first: it is named when both end together
            until = locked.get(key)
            if until is not None and (found is None or until > found.until):
                found = Lock(kind, float(until))
        return found

    @staticmethod
    def _count(db: Connection, key: str, limit: Limit, now: float) -> int:
        return int(
            db.execute(
                select(func.count())
                .select_from(lockout_failures)
                .where(lockout_failures.c.key == key, lockout_failures.c.at > now - limit.window_s)
            ).scalar_one()
        )

    @staticmethod
    def _lock(db: Connection, kind: str, key: str, limit: Limit, now: float) -> Lock:
        until = now + limit.lock_s
        dialect = postgresql if db.dialect.name == "postgresql" else sqlite
        upsert = dialect.insert(lockout_locks).values(key=key, until=until)
        db.execute(
            upsert.on_conflict_do_update(
                index_elements=[lockout_locks.c.key],
                set_={
                    "until": case(
                        (lockout_locks.c.until > upsert.excluded.until, lockout_locks.c.until),
                        else_=upsert.excluded.until,
                    )
                },
            )
        )
        # A lock starts the count again: after it, the full number of tries.
        db.execute(delete(lockout_failures).where(lockout_failures.c.key == key))
        return Lock(kind, until)

    def _tidy(self, now: float) -> None:
        """Drop failures and locks too old to matter, once a minute at most.

        Nothing counts them (every query looks at its window only): this keeps the tables
        small. Its own transaction, which on PostgreSQL skips the rows another replica holds
        and so never waits for one, nor makes one wait on it while holding key locks.
        """
        if self._tidied is not None and abs(now - self._tidied) < TIDY_EVERY_SECONDS:
            return
        self._tidied = now
        oldest = now - max(self.policy.record.window_s, self.policy.client.window_s)
        failures, locks = lockout_failures, lockout_locks
        old_failures = select(failures.c.id).where(failures.c.at < oldest)
        old_locks = select(locks.c.key).where(locks.c.until <= now)
        with transaction(self.engine, write=True) as db:
            db.execute(
                delete(failures).where(
                    failures.c.id.in_(old_failures.with_for_update(skip_locked=True))
                )
            )
            db.execute(
                delete(locks).where(locks.c.key.in_(old_locks.with_for_update(skip_locked=True)))
            )

    def _adopt_legacy_tables(self) -> None:
        """A file written before the tables had their present names: its counts and locks
        carried over, so an upgrade gives nobody fresh tries."""
        with transaction(self.engine, write=True) as db:
            present = set(inspect(db).get_table_names())
            for old, new in ((_legacy_failures, lockout_failures), (_legacy_locks, lockout_locks)):
                if old.name in present:
                    columns = [column.name for column in old.columns]
                    db.execute(insert(new).from_select(columns, select(*old.columns)))
                    old.drop(db)


@lru_cache(maxsize=1)
def lockout_store() -> LockoutStore:
    """The process's store, created at first use from ``LOCKOUT_*`` and either
    ``ACTIONS_STATE_DATABASE_URL`` (PostgreSQL shared by every replica) or ``ACTIONS_STATE_DB``.

    Raises:
        StateSettingsError: ``ACTIONS_STATE_DATABASE_URL`` cannot be used.
        StateUnavailable: the database cannot be reached.
    """
    settings = current_settings()
    return LockoutStore(state_engine(settings.state_db), settings.lockout)


def _digest(kind: str, key: str) -> str:
    return hashlib.sha256(f"{kind}\0{key}".encode()).hexdigest()
