"""Database URL, engine factory, schema management and the one place DB failures are mapped."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from envvars import forget_current
from erp.errors import ErpUnavailable
from erp.models import Base
from erp.settings import DATABASE_URL, POOL_SIZE, STATEMENT_TIMEOUT_MS

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = ROOT / "var" / "erp.db"
CONNECT_TIMEOUT_SECONDS = 5
# The assistant's own connections are read-only, each statement is cut off after
# ERP_STATEMENT_TIMEOUT_MS, and the pool is as large as the action server's worker threads
# may ask for at once (ERP_POOL_SIZE; both in erp/settings.py).
POOL_TIMEOUT_SECONDS = 10
# How often (in SQLite virtual machine steps) a running SQLite statement checks its deadline.
_SQLITE_CHECK_EVERY = 10_000
# PyMySQL reports MariaDB's failed CHECK constraint (4025) as an OperationalError, though it
# is bad data, not an unreachable database.
_MYSQL_DATA_ERRORS = frozenset({4025})


def database_url() -> str:
    """Return the ERP database URL.

    Reads ``ERP_DATABASE_URL``; without it, uses a SQLite file at ``var/erp.db`` in the
    repository, creating ``var/`` if needed.

    Returns:
        A SQLAlchemy database URL.
    """
    url = DATABASE_URL.read(os.environ)
    if url:
        return url
    DEFAULT_SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    """Turn on foreign key enforcement, which SQLite leaves off per connection."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def statement_timeout_ms() -> int:
    """``ERP_STATEMENT_TIMEOUT_MS`` (default 5000): how long one ERP query may run.

    Raises:
        SettingsError: it is not a whole number of 100 to 600000.
    """
    return STATEMENT_TIMEOUT_MS.read(os.environ)


def make_engine(
    url: str | None = None, *, read_only: bool = False, bounded: bool = False
) -> Engine:
    """Build an engine for ``url`` (default: :func:`database_url`).

    Connections are pinged before use, connection attempts time out after a few seconds,
    and SQLite enforces foreign keys.

    A ``read_only`` engine is the assistant's own: the database refuses every write on its
    connections (SQLite opened ``mode=ro`` with ``query_only``; PostgreSQL
    ``default_transaction_read_only``; MariaDB/MySQL ``SET SESSION TRANSACTION READ ONLY``),
    each statement is cancelled after :func:`statement_timeout_ms`, and the pool holds
    ``ERP_POOL_SIZE`` connections (default 10) plus as many again at peaks. Give it a
    database user that may only SELECT as well (docs/erp-mapping.md).

    Args:
        url: A SQLAlchemy URL such as ``postgresql+psycopg://user@host/erp``.
        read_only: Refuse writes and bound statement time (the bot's connections).
        bounded: Bound statement time only (the bot's write connection, erp/writes.py).

    Returns:
        A new engine; nothing is connected until it is first used.
    """
    parsed = make_url(url or database_url())
    backend = parsed.get_backend_name()
    connect_args: dict[str, Any] = {}
    options: dict[str, Any] = {"pool_pre_ping": True}
    timeout_ms = statement_timeout_ms() if read_only or bounded else 0
    if backend in ("postgresql", "mysql", "mariadb"):
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    if backend == "postgresql" and timeout_ms:
        settings = ["-c default_transaction_read_only=on"] if read_only else []
        # A statement, or a wait for a row another change holds, is cut off alike.
        settings += [f"-c statement_timeout={timeout_ms}", f"-c lock_timeout={timeout_ms}"]
        connect_args["options"] = " ".join(settings)
    if read_only and not (backend == "sqlite" and parsed.database in (None, "", ":memory:")):
        size = POOL_SIZE.read(os.environ)
        options |= {"pool_size": size, "max_overflow": size, "pool_timeout": POOL_TIMEOUT_SECONDS}
    engine = create_engine(parsed, connect_args=connect_args, **options)
    if backend == "sqlite":
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
        if read_only:
            _sqlite_read_only(engine)
        if timeout_ms:
            _sqlite_deadline(engine, timeout_ms)
    elif backend in ("mysql", "mariadb") and timeout_ms:
        event.listen(
            engine,
            "connect",
            functools.partial(_mysql_session, read_only=read_only, timeout_ms=timeout_ms),
        )
    return engine


def _sqlite_read_only(engine: Engine) -> None:
    """Open the file read-only, and refuse writes on the connection too."""
    path = engine.url.database

    @event.listens_for(engine, "do_connect")
    def _open_read_only(_dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        if path and path != ":memory:" and not path.startswith("file:"):
            uri = f"{Path(path).resolve().as_uri()}?mode=ro"
            if cargs:
                cargs[0] = uri
            else:
                cparams["database"] = uri
            cparams["uri"] = True

    @event.listens_for(engine, "connect")
    def _query_only(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA query_only=ON")
        cursor.close()


def _sqlite_deadline(engine: Engine, timeout_ms: int) -> None:
    """Interrupt any statement that runs past its deadline."""

    @event.listens_for(engine, "connect")
    def _guard(dbapi_connection: Any, record: Any) -> None:
        deadline = [0.0]
        record.info["deadline"] = deadline
        dbapi_connection.set_progress_handler(
            lambda: int(deadline[0] != 0.0 and time.monotonic() > deadline[0]), _SQLITE_CHECK_EVERY
        )

    @event.listens_for(engine, "before_cursor_execute")
    def _start_clock(connection: Any, *_args: Any) -> None:
        deadline = connection.connection.info.get("deadline")
        if deadline is not None:
            deadline[0] = time.monotonic() + timeout_ms / 1000


def _mysql_session(
    dbapi_connection: Any, _record: Any, *, read_only: bool, timeout_ms: int
) -> None:
    """Make a MariaDB/MySQL session cancel statements past ``timeout_ms`` and wait no longer
    for a row lock, and (``read_only``) refuse writes."""
    cursor = dbapi_connection.cursor()
    try:
        if read_only:
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
        cursor.execute(
            "SET SESSION innodb_lock_wait_timeout = %s", (max(1, round(timeout_ms / 1000)),)
        )
        cursor.execute("SELECT VERSION()")
        version = str(cursor.fetchone()[0])
        if "mariadb" in version.lower():
            cursor.execute("SET SESSION max_statement_time = %s", (timeout_ms / 1000,))
        else:
            cursor.execute("SET SESSION max_execution_time = %s", (timeout_ms,))
    finally:
        cursor.close()


@functools.cache
def get_engine() -> Engine:
    """Return the assistant's process-wide engine for :func:`database_url`, built on first
    use: read-only, with statement timeouts (see :func:`make_engine`)."""
    return make_engine(read_only=True)


def reset_engine_cache() -> None:
    """Dispose of the cached engine so the next :func:`get_engine` reads the URL again (and
    the settings read once, such as the mapping)."""
    forget_current()
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()


def _safe_url(engine: Engine) -> str:
    """Return the engine's URL with any password masked."""
    return engine.url.render_as_string(hide_password=True)


@contextmanager
def unavailable_on_failure(engine: Engine) -> Iterator[None]:
    """Translate driver connection failures inside the block into :class:`ErpUnavailable`."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
        if engine.dialect.name in ("mysql", "mariadb") and code in _MYSQL_DATA_ERRORS:
            raise
        raise ErpUnavailable(str(exc.orig or exc), url=_safe_url(engine)) from exc


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """Open a session in a transaction, committed on success and rolled back on error.

    Example:
        >>> with session_scope() as session:
        ...     status = get_order_status("SO-100123", customer_id=7, session=session)

    Args:
        engine: The engine to use (default: :func:`get_engine`).

    Yields:
        A session inside ``session.begin()``.

    Raises:
        ErpUnavailable: The database could not be reached or failed operationally.
    """
    engine = engine or get_engine()
    with unavailable_on_failure(engine), Session(engine) as session, session.begin():
        yield session


def create_schema(engine: Engine) -> None:
    """Create every ERP table that does not exist yet."""
    with unavailable_on_failure(engine):
        Base.metadata.create_all(engine)


def drop_schema(engine: Engine) -> None:
    """Drop every ERP table."""
    with unavailable_on_failure(engine):
        Base.metadata.drop_all(engine)


def ping(engine: Engine) -> bool:
    """Return True when the database answers ``SELECT 1``, False when it cannot be reached."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except (OperationalError, InterfaceError):
        return False
    return True
