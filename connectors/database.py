"""Where the gateway keeps its state: a SQLite file (one gateway process, the default) or a
PostgreSQL database shared by every gateway replica (the production profile).

Both speak the same SQL: the repositories (connectors/store.py and the modules of each
aggregate) write ``?`` placeholders and portable statements (``ON CONFLICT``, ``RETURNING``);
this module adapts the placeholders for PostgreSQL. The schema is made by the Alembic
migrations in connectors/migrations/, applied when a database is opened.

Transactions are serialised across processes like SQLite's ``BEGIN IMMEDIATE``: on PostgreSQL
each one first takes a transaction-scoped advisory lock, so read-then-write sequences (open a
handoff unless one is open, claim a handoff) stay correct with any number of replicas. The
outbox does not rely on that: it claims its rows with ``FOR UPDATE SKIP LOCKED``
(``Database.skip_locked``) outside that lock, so replicas deliver side by side.

Calls block: run them in a worker thread (``GatewayStore._run``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from connectors.errors import StoreUnavailable

BUSY_TIMEOUT_SECONDS = 10.0
# Any constant: the key of the advisory lock every write transaction takes on PostgreSQL.
_TRANSACTION_LOCK = 0x6761_7465  # "gate"
_MIGRATION_LOCK = 0x6D69_6772  # "migr"
POOL_SIZE = 8


class IntegrityError(Exception):
    """A constraint refused a write (a unique index, a CHECK), on either backend."""


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Transaction:
    """The connection of a running transaction: ``execute``/``executemany`` with ``?``."""

    def __init__(self, database: Database, connection: Any) -> None:
        self._database = database
        self._connection = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        cursor = self._connection.cursor()
        with self._database.errors():
            cursor.execute(self._database.adapt(sql), tuple(params))
        return cursor

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Cursor:
        cursor = self._connection.cursor()
        with self._database.errors():
            cursor.executemany(self._database.adapt(sql), [tuple(row) for row in rows])
        return cursor


class Database:
    """One gateway database; ``open_database`` picks the backend from the location."""

    dialect: str
    #: What a row-claiming SELECT appends: ``FOR UPDATE SKIP LOCKED`` where the backend has it.
    skip_locked: str = ""
    #: The database's clock as an SQL expression, seconds since the epoch (see ``now``).
    clock_sql: str

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A transaction serialised with every other writer (the gateway-wide lock)."""
        raise NotImplementedError

    @contextmanager
    def unlocked(self) -> Iterator[Transaction]:
        """A transaction that does not take the gateway-wide lock, for statements that lock
        the rows they touch (claims, batched deletes). Where the backend has no row locks
        (SQLite: one writer at a time) it is the plain transaction."""
        with self.transaction() as db:
            yield db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement in its own transaction (or the running one of this thread), not
        under the gateway-wide lock; the number of rows it changed."""
        with self.unlocked() as db:
            return db.execute(sql, params).rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one statement, run as ``execute`` runs it."""
        with self.unlocked() as db:
            return [tuple(row) for row in db.execute(sql, params).fetchall()]

    def now(self) -> float:
        """The database server's clock, in seconds since the epoch: the one clock all the
        replicas share, where each one's own may be off (claims across replicas use it)."""
        return float(self.query(f"SELECT {self.clock_sql}")[0][0])

    def adapt(self, sql: str) -> str:
        return sql

    @contextmanager
    def errors(self) -> Iterator[None]:
        yield

    def engine(self) -> Engine:
        """A SQLAlchemy engine on this database (the migrations use it)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SqliteDatabase(Database):
    """One SQLite connection shared under a lock (SQLite serialises writers anyway)."""

    dialect = "sqlite"
    # Julian days to seconds since the epoch: no unixepoch('subsec') before SQLite 3.42.
    clock_sql = "(julianday('now') - 2440587.5) * 86400.0"

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS
        )
        # Re-entrant: a transaction body may call execute/query on the same thread.
        self._lock = threading.RLock()
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._engine: Engine | None = None

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._lock:
            if self._db.in_transaction:
                # A nested call joins the outer transaction instead of failing on BEGIN.
                yield Transaction(self, self._db)
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self, self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        # In autocommit rather than a transaction of its own: a read does not take the write
        # lock that BEGIN IMMEDIATE would (inside a running transaction it joins that one).
        with self._lock, self.errors():
            return self._db.execute(sql, tuple(params)).rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock, self.errors():
            return self._db.execute(sql, tuple(params)).fetchall()

    @contextmanager
    def errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.IntegrityError as error:
            raise IntegrityError(str(error)) from error
        except sqlite3.OperationalError as error:
            raise StoreUnavailable(f"gateway database: {error}") from error

    def engine(self) -> Engine:
        if self._engine is None:
            # The same connection, so an in-memory database is migrated where it is used.
            self._engine = create_engine(
                "sqlite://", creator=lambda: self._db, poolclass=StaticPool
            )
        return self._engine

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
            self._db.close()


class PostgresDatabase(Database):
    """A pool of connections; every transaction serialised by an advisory lock.

    The pool checks a connection before lending it, so a restarted PostgreSQL costs the
    statements that were running at that moment, not the process.
    """

    dialect = "postgresql"
    skip_locked = " FOR UPDATE SKIP LOCKED"
    # The time of the call, not of the transaction's start (now()).
    clock_sql = "EXTRACT(EPOCH FROM clock_timestamp())"

    def __init__(self, url: str, *, password: str = "", pool_size: int = POOL_SIZE) -> None:
        parsed = make_url(url).set(drivername="postgresql+psycopg")
        if password:
            parsed = parsed.set(password=password)
        self._url = parsed
        self._engine = create_engine(
            parsed,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            pool_recycle=1800,
            connect_args={"connect_timeout": 10},
        )
        event.listen(self._engine, "connect", _client_side_binding)
        self._local = threading.local()

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._transaction(serialised=True) as db:
            yield db

    @contextmanager
    def unlocked(self) -> Iterator[Transaction]:
        """A transaction that does not take the advisory lock: for row-locking claims."""
        with self._transaction(serialised=False) as db:
            yield db

    @contextmanager
    def _transaction(self, *, serialised: bool) -> Iterator[Transaction]:
        current = getattr(self._local, "connection", None)
        if current is not None:
            # A nested call joins the transaction running on this thread.
            yield Transaction(self, current)
            return
        with self.errors():
            connection = self._engine.raw_connection()
        try:
            if serialised:
                with self.errors():
                    connection.cursor().execute(
                        "SELECT pg_advisory_xact_lock(%s)", (_TRANSACTION_LOCK,)
                    )
            self._local.connection = connection
            try:
                yield Transaction(self, connection)
            except BaseException:
                with suppress(Exception):  # a lost connection has nothing to roll back
                    connection.rollback()
                raise
            finally:
                self._local.connection = None
            with self.errors():
                connection.commit()
        finally:
            connection.close()

    def adapt(self, sql: str) -> str:
        # psycopg's placeholders are %s; a literal % must be doubled.
        return sql.replace("%", "%%").replace("?", "%s")

    @contextmanager
    def errors(self) -> Iterator[None]:
        import psycopg

        try:
            yield
        except psycopg.IntegrityError as error:
            raise IntegrityError(str(error).splitlines()[0]) from error
        except (psycopg.OperationalError, DBAPIError) as error:
            # PostgreSQL restarting or out of reach: the statement did not happen.
            raise StoreUnavailable(f"gateway database: {_first_line(error)}") from error

    def engine(self) -> Engine:
        return self._engine

    def dsn(self) -> str:
        """A psycopg connection string (with the password) for a connection of its own."""
        return self._url.set(drivername="postgresql").render_as_string(hide_password=False)

    def close(self) -> None:
        self._engine.dispose()


def open_database(location: str | Path, *, password: str = "") -> Database:
    """The database at ``location`` (a SQLite path or ``:memory:``, or a ``postgresql://``
    URL with ``password`` apart), migrated to the newest schema.

    Example:
        >>> open_database(":memory:").query("SELECT COUNT(*) FROM transcript")
        [(0,)]
    """
    from connectors.migrations import upgrade

    location = str(location)
    database: Database
    if location.startswith("postgresql"):
        database = PostgresDatabase(location, password=password)
    else:
        database = SqliteDatabase(location)
    upgrade(database, lock=_MIGRATION_LOCK)
    return database


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0]


def _client_side_binding(dbapi_connection: Any, _record: Any) -> None:
    """Bind parameters on the client, as SQLite does: ``? IS NULL`` needs no declared type."""
    import psycopg

    dbapi_connection.cursor_factory = psycopg.ClientCursor
