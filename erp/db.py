"""Database URL, engine factory, schema management and the one place DB failures are mapped."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from erp.errors import ErpUnavailable
from erp.models import Base

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = ROOT / "var" / "erp.db"
URL_ENV = "ERP_DATABASE_URL"
CONNECT_TIMEOUT_SECONDS = 5
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
    url = os.environ.get(URL_ENV, "").strip()
    if url:
        return url
    DEFAULT_SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    """Turn on foreign key enforcement, which SQLite leaves off per connection."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str | None = None) -> Engine:
    """Build an engine for ``url`` (default: :func:`database_url`).

    Connections are pinged before use, connection attempts time out after a few seconds,
    and SQLite enforces foreign keys.

    Args:
        url: A SQLAlchemy URL such as ``postgresql+psycopg://user@host/erp``.

    Returns:
        A new engine; nothing is connected until it is first used.
    """
    parsed = make_url(url or database_url())
    backend = parsed.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend in ("postgresql", "mysql", "mariadb"):
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    engine = create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    if backend == "sqlite":
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
    return engine


@functools.cache
def get_engine() -> Engine:
    """Return the process-wide engine for :func:`database_url`, built on first use."""
    return make_engine()


def reset_engine_cache() -> None:
    """Dispose of the cached engine so the next :func:`get_engine` reads the URL again."""
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
