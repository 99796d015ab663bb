"""The action server's own database: the lockout counts (actions/lockout.py) and the audit
trail (erp/audit.py), in SQLite files or in one PostgreSQL database every replica shares.

By default each lives in a SQLite file of its own (``ACTIONS_STATE_DB``, ``AUDIT_DB``), which
is enough on one machine. With ``ACTIONS_STATE_DATABASE_URL`` (``postgresql://user@host:port/db``,
the password apart in ``ACTIONS_STATE_DATABASE_PASSWORD``) both live in that one database:
action servers on different machines then count guesses together and write one trail.

The tables are defined here once and created at first use; replicas starting together create
them under an advisory lock. No engine exists until a store is opened.

Example:
    >>> engine = state_engine(Path("var/audit.db"))  # the shared database, when one is set
    >>> create_tables(engine, [audit_events])
    >>> with transaction(engine, write=True) as db:
    ...     db.execute(insert(audit_events).values(at="2026-12-06T10:00:00.000+00:00", ...))
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    URL,
    BigInteger,
    Column,
    Connection,
    Double,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    make_url,
    select,
)
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import NullPool

from erp.errors import StateSettingsError, StateUnavailable
from erp.settings import STATE_DATABASE_PASSWORD, STATE_DATABASE_URL

URL_ENV = STATE_DATABASE_URL.name
PASSWORD_ENV = STATE_DATABASE_PASSWORD.name
CONNECT_TIMEOUT_SECONDS = 10
# A statement, or a wait for another replica's lock, cut off after this long: a clear error
# for the turn instead of a wait without end.
STATEMENT_TIMEOUT_MS = 10_000
SQLITE_BUSY_SECONDS = 10.0
WAL_RETRY_SECONDS = 0.05
# The action server's worker threads (asyncio.to_thread) each hold one connection at a time.
POOL_SIZE = 5
# Any constant: the advisory lock under which replicas create the tables.
_CREATE_LOCK = 0x6163_7473  # "acts"
# Set on a connection whose transaction writes: SQLite then begins it IMMEDIATE.
_WRITE_OPTION = "state_write"

metadata = MetaData()
# Ids grow for ever (failures come and go): 64 bits on PostgreSQL; on SQLite an INTEGER
# PRIMARY KEY is the rowid, which is 64 bits already.
_ID = BigInteger().with_variant(Integer(), "sqlite")

lockout_failures = Table(
    "lockout_failures",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("key", String(64), nullable=False),  # a SHA-256 digest, never the key itself
    Column("at", Double, nullable=False),  # Unix time
    Index("lockout_failures_by_key", "key", "at"),
)
lockout_locks = Table(
    "lockout_locks",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("until", Double, nullable=False),
)
audit_events = Table(
    "audit_events",
    metadata,
    Column("id", _ID, primary_key=True),
    # ISO 8601 in UTC, compared as text (``--since``): byte order on PostgreSQL too.
    Column("at", Text().with_variant(Text(collation="C"), "postgresql"), nullable=False),
    Column("conversation", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("customer", Text, nullable=False),
    Column("operation", Text, nullable=False),
    Column("record", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("ms", Double, nullable=False),
    Index("audit_by_conversation", "conversation", "at"),
    Index("audit_by_customer", "customer", "at"),
    sqlite_autoincrement=True,  # as the files made before this module had it
)
LOCKOUT_TABLES = (lockout_failures, lockout_locks)
AUDIT_TABLES = (audit_events,)


def state_url(environ: Mapping[str, str] | None = None) -> URL | None:
    """The shared database from ``ACTIONS_STATE_DATABASE_URL`` with the password of
    ``ACTIONS_STATE_DATABASE_PASSWORD``, or None when it is not set (SQLite files then).

    Example:
        >>> state_url({"ACTIONS_STATE_DATABASE_URL": "postgresql://acts@db:5432/acts"}).host
        'db'

    Raises:
        StateSettingsError: the URL is not a ``postgresql://user@host:port/database`` one.
    """
    if environ is None:
        return state_url(os.environ)
    raw = STATE_DATABASE_URL.read(environ)
    if not raw:
        return None
    # Not echoed in the messages: the URL may carry a password.
    if not raw.startswith(("postgresql://", "postgresql+psycopg://")):
        raise StateSettingsError(f"{URL_ENV} must start with postgresql://")
    shape = f"{URL_ENV} must look like postgresql://user@host:port/database"
    try:
        url = make_url(raw)
        url.port  # noqa: B018 - a port that is not a number fails here, not at the first turn
    except (ArgumentError, ValueError):
        raise StateSettingsError(shape) from None
    if not url.host or not url.database:
        raise StateSettingsError(f"{shape} (the host or the database is missing)")
    password = STATE_DATABASE_PASSWORD.read(environ)
    if password:
        url = url.set(password=password)
    return url.set(drivername="postgresql+psycopg")


def state_engine(sqlite_file: Path, environ: Mapping[str, str] | None = None) -> Engine:
    """The engine of one store: the shared PostgreSQL database when ``ACTIONS_STATE_DATABASE_URL``
    is set, otherwise ``sqlite_file`` (its folder created).

    Raises:
        StateSettingsError: ``ACTIONS_STATE_DATABASE_URL`` cannot be used.
    """
    url = state_url(environ)
    return make_state_engine(sqlite_file if url is None else url)


def make_state_engine(location: Path | URL) -> Engine:
    """A new engine on a SQLite file or a PostgreSQL URL (psycopg 3, the password in it).

    SQLite: a connection per use, WAL, waits up to SQLITE_BUSY_SECONDS for another writer.
    PostgreSQL: a small pool checked before each use (a restarted server costs the statements
    that were running, not the process), connections and statements bounded in time.
    """
    if isinstance(location, URL):
        return create_engine(
            location.set(drivername="postgresql+psycopg"),
            pool_pre_ping=True,
            pool_size=POOL_SIZE,
            max_overflow=POOL_SIZE,
            pool_timeout=CONNECT_TIMEOUT_SECONDS,
            pool_recycle=1800,
            connect_args={
                "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                "application_name": "erp-assistant-actions",
                "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS} "
                f"-c lock_timeout={STATEMENT_TIMEOUT_MS}",
            },
        )
    location.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        URL.create("sqlite", database=str(location)),
        poolclass=NullPool,
        connect_args={"timeout": SQLITE_BUSY_SECONDS},
    )
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def create_tables(engine: Engine, tables: Iterable[Table]) -> None:
    """Create the ``tables`` missing from the database, one replica at a time.

    Raises:
        StateUnavailable: the database cannot be reached or used.
    """
    with transaction(engine, write=True) as db:
        if db.dialect.name == "postgresql":
            db.execute(select(func.pg_advisory_xact_lock(_CREATE_LOCK)))
        metadata.create_all(db, tables=list(tables), checkfirst=True)


@contextmanager
def transaction(engine: Engine, *, write: bool = False) -> Iterator[Connection]:
    """One transaction, committed when the block ends without an error.

    A ``write`` transaction on SQLite holds the file's write lock from its first statement
    (BEGIN IMMEDIATE), so what it read is still true when it writes, whatever other process
    writes to the file; on PostgreSQL see `serialise`.

    Raises:
        StateUnavailable: the database cannot be reached or used.
    """
    try:
        with engine.connect() as connection:
            if write:
                connection.execution_options(**{_WRITE_OPTION: True})
            with connection.begin():
                yield connection
    except (OperationalError, InterfaceError, PoolTimeout) as error:
        raise StateUnavailable(describe(engine), _first_line(error)) from error


def serialise(db: Connection, names: Iterable[str]) -> None:
    """On PostgreSQL, wait until this transaction alone holds the advisory locks of ``names``,
    kept until it ends; taken in one order, so two transactions sharing names wait in turn and
    never deadlock. SQLite needs nothing: a write transaction has the file to itself."""
    if db.dialect.name != "postgresql":
        return
    for lock in sorted({_lock_id(name) for name in names}):
        db.execute(select(func.pg_advisory_xact_lock(lock)))


def describe(engine: Engine) -> str:
    """The database of ``engine`` for a message, without its password."""
    url = engine.url
    if url.get_backend_name() == "postgresql":
        return f"at {url.host}:{url.port or 5432}/{url.database} ({URL_ENV})"
    return f"{url.database}"


def _lock_id(name: str) -> int:
    """A 64-bit advisory lock key for ``name`` (a collision only makes two keys wait in turn)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own BEGIN off: `_sqlite_begin` says which kind of transaction to start.
    dbapi_connection.isolation_level = None
    # Turning a new file to WAL needs it alone, and SQLite says "locked" at once instead of
    # waiting while another connection turns it too (waiting could deadlock): replicas
    # starting together try again until the first has done it (then it is WAL already).
    deadline = time.monotonic() + SQLITE_BUSY_SECONDS
    while True:
        try:
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(WAL_RETRY_SECONDS)


def _sqlite_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get(_WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _first_line(error: BaseException) -> str:
    # SQLAlchemy appends the statement and a link to its error page: the driver's reason only.
    original = getattr(error, "orig", None) or error
    return (str(original).strip().splitlines() or [type(original).__name__])[0]
