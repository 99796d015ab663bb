"""The sample ERPs (Northwind, classicmodels) on any database the ERP layer reads.

Northwind ships as a SQLite file and classicmodels as a MySQL dump. The dump runs on MariaDB
(:func:`load_classicmodels`); either sample then moves to any other backend by reflection
(:func:`copy_database`), and :func:`grant_reader` makes a login that may only read it.
``python -m erp load-sample`` does all of it (:func:`load_sample`).

Example:
    >>> northwind = make_engine("sqlite:///../shared/benchmarks/northwind/northwind.db")
    >>> target = make_engine("postgresql+psycopg://postgres@127.0.0.1:5432/northwind")
    >>> copy_database(northwind, target)["Order Details"]
    2155
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    URL,
    Column,
    Connection,
    Engine,
    Index,
    MetaData,
    Table,
    func,
    insert,
    inspect,
    make_url,
    select,
    text,
    types,
)
from sqlalchemy.dialects import mysql

from erp.db import make_engine, ping
from erp.settings import BENCHMARKS_DIR

SAMPLES = ("northwind", "classicmodels")
BATCH_ROWS = 1000
# Text columns in a key or index need a length on MariaDB; 255 characters of utf8mb4 fit
# InnoDB's index limit even in a two-column key.
KEY_TEXT_LENGTH = 255
# For NUMERIC columns without a precision (SQLite's): MariaDB's default would be DECIMAL(10, 0),
# dropping every cent.
DEFAULT_NUMERIC = (19, 4)
MAX_INDEX_NAME = 60
_MYSQL = ("mysql", "mariadb")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_USER_NAME = re.compile(r"[a-z_][a-z0-9_]{0,31}")
_DATABASE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,62}")
# The dump's own CREATE DATABASE and USE, after any leading comments.
_SWITCHES_DATABASE = re.compile(r"(?:\s*/\*.*?\*/)*\s*(?:CREATE\s+DATABASE|USE)\b", re.I | re.S)


@dataclass(frozen=True)
class LoadedSample:
    """Where a sample was loaded, and its rows per table."""

    url: URL
    rows: dict[str, int]


def default_source(sample: str) -> Path:
    """The shared copy of a sample: ``$BENCHMARKS_DIR``, else ``../shared/benchmarks``.

    Raises:
        ValueError: ``sample`` is not one of :data:`SAMPLES`.
    """
    base = BENCHMARKS_DIR.read(os.environ)
    if sample == "northwind":
        return base / "northwind" / "northwind.db"
    if sample == "classicmodels":
        return base / "classicmodels" / "classicmodels.sql"
    raise ValueError(f"sample must be one of {', '.join(SAMPLES)}, got {sample!r}")


def load_sample(
    sample: str, target_url: str | URL, source: str | Path | None = None
) -> LoadedSample:
    """Load a sample ERP into the database at ``target_url``, created if missing.

    Args:
        sample: ``northwind`` or ``classicmodels``.
        target_url: Where to load it; tables of the sample's names there are replaced.
        source: The sample's SQLite file, MySQL dump, or the URL of a database already
            holding it (default: :func:`default_source`). The classicmodels dump only runs
            on MariaDB or MySQL; for another backend, load it there first and copy from it.

    Raises:
        ValueError: an unknown sample, a missing source file, or a dump for another backend.
    """
    if sample not in SAMPLES:
        raise ValueError(f"sample must be one of {', '.join(SAMPLES)}, got {sample!r}")
    target = make_url(target_url)
    origin = str(source) if source is not None else str(default_source(sample))
    if "://" not in origin and origin.endswith(".sql"):
        if sample != "classicmodels":
            raise ValueError(f"{origin}: only the classicmodels sample loads from a SQL dump")
        if target.get_backend_name() not in _MYSQL:
            raise ValueError(
                "the classicmodels dump is MySQL's: load it into MariaDB first "
                "(--url mysql+pymysql://...), then copy it from there with --source URL"
            )
        loaded = load_classicmodels(target, _existing(Path(origin)))
        return LoadedSample(loaded, row_counts(loaded))
    source_url = origin if "://" in origin else f"sqlite:///{_existing(Path(origin))}"
    create_database(target)
    reading, writing = make_engine(source_url), make_engine(_render(target))
    try:
        rows = copy_database(reading, writing)
    finally:
        reading.dispose()
        writing.dispose()
    return LoadedSample(target, rows)


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise ValueError(f"no file at {path}")
    return path.resolve()


def _render(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def create_database(url: str | URL) -> None:
    """Create the URL's database on its server when missing (SQLite: the file's folder).

    Raises:
        ValueError: the URL names no database, an unsafe name, or an unsupported backend.
    """
    url = make_url(url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        return
    name = url.database or ""
    if not name:
        raise ValueError(f"{url.render_as_string(hide_password=True)} names no database")
    if not _DATABASE_NAME.fullmatch(name):
        raise ValueError(f"database name must be letters, digits, _ or -, got {name!r}")
    if backend not in ("postgresql", *_MYSQL):
        raise ValueError(f"cannot create databases on {backend}")
    existing = make_engine(_render(url))
    try:
        # A hosted database may exist for a user who may not reach the server's own.
        if ping(existing):
            return
    finally:
        existing.dispose()
    server = make_engine(
        _render(url.set(database="postgres" if backend == "postgresql" else "mysql"))
    )
    quoted = server.dialect.identifier_preparer.quote_identifier(name)
    try:
        with server.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            if backend == "postgresql":
                found = connection.scalar(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                )
                if found is None:
                    connection.execute(text(f"CREATE DATABASE {quoted}"))
            else:
                connection.execute(
                    text(f"CREATE DATABASE IF NOT EXISTS {quoted} CHARACTER SET utf8mb4")
                )
    finally:
        server.dispose()


def load_classicmodels(admin_url: str | URL, sql_path: Path) -> URL:
    """Run the classicmodels MySQL dump on MariaDB (or MySQL).

    The dump's own ``CREATE DATABASE`` and ``USE`` are skipped, so its tables land in the
    URL's database (``classicmodels`` when the URL names none), created if missing. The dump
    drops its tables first: loading again starts afresh.

    Args:
        admin_url: A user who may create the database and its tables.
        sql_path: The dump (``classicmodels.sql``).

    Returns:
        The URL of the loaded database.

    Raises:
        ValueError: the URL is not MariaDB's or MySQL's.
    """
    url = make_url(admin_url)
    if url.get_backend_name() not in _MYSQL:
        raise ValueError(
            f"the classicmodels dump runs on MariaDB or MySQL, not {url.get_backend_name()}"
        )
    url = url.set(database=url.database or "classicmodels")
    create_database(url)
    sql = sql_path.read_text(encoding="utf-8")
    engine = make_engine(_render(url))
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement in mysql_statements(sql):
            if not _SWITCHES_DATABASE.match(statement):
                cursor.execute(statement)
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    return url


def mysql_statements(sql: str) -> Iterator[str]:
    """A MySQL dump's statements, each ending with ``;`` at the end of a line (no value in
    the samples ends a line with one)."""
    buffer: list[str] = []
    for line in sql.splitlines():
        buffer.append(line)
        if line.rstrip().endswith(";"):
            statement = "\n".join(buffer).strip()
            buffer = []
            if statement:
                yield statement


def grant_reader(engine: Engine, user: str, *, client_host: str | None = None) -> URL:
    """Create (or reset) a login that may only read the engine's database; return its URL.

    MariaDB/MySQL: ``user@client_host`` (default: the engine's host when it is this machine,
    else any host) with ``SELECT`` on the database. PostgreSQL: a role with ``LOGIN``,
    ``CONNECT`` on the database, ``USAGE`` on its schema and ``SELECT`` on the tables there
    now (grant again after adding tables); every other table privilege there is revoked.
    Either way the password is new, and in the URL returned.

    Raises:
        ValueError: an unsafe user name, or a backend without users (SQLite).
    """
    if not _USER_NAME.fullmatch(user):
        raise ValueError(f"user must be lower-case letters, digits and _, got {user!r}")
    password = secrets.token_hex(16)
    backend = engine.url.get_backend_name()
    if backend != "sqlite" and not engine.url.database:
        raise ValueError("the engine's URL names no database to read")
    if backend in _MYSQL:
        host = client_host or (engine.url.host if engine.url.host in _LOOPBACK else "%")
        _grant_mysql(engine, user, host, password)
    elif backend == "postgresql":
        _grant_postgresql(engine, user, password)
    else:
        raise ValueError(f"{backend} has no database users: its file's permissions decide")
    return engine.url.set(username=user, password=password)


def _grant_mysql(engine: Engine, user: str, host: str, password: str) -> None:
    database = engine.dialect.identifier_preparer.quote_identifier(str(engine.url.database))
    account = {"user": user, "host": host}
    with engine.begin() as connection:
        connection.execute(text("DROP USER IF EXISTS :user@:host"), account)
        connection.execute(
            text("CREATE USER :user@:host IDENTIFIED BY :password"),
            {**account, "password": password},
        )
        connection.execute(text(f"GRANT SELECT ON {database}.* TO :user@:host"), account)


def _grant_postgresql(engine: Engine, user: str, password: str) -> None:
    quote = engine.dialect.identifier_preparer.quote_identifier
    role, database = quote(user), quote(str(engine.url.database))
    schema = quote(inspect(engine).default_schema_name or "public")
    # PostgreSQL takes no parameters in role statements: the password (hex, ours) is rendered
    # as a literal by the dialect.
    literal = types.String().literal_processor(engine.dialect)
    assert literal is not None
    attributes = f"LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD {literal(password)}"
    with engine.begin() as connection:
        found = connection.scalar(
            text("SELECT 1 FROM pg_roles WHERE rolname = :name"), {"name": user}
        )
        verb = "ALTER" if found else "CREATE"
        connection.execute(text(f"{verb} ROLE {role} {attributes}"))
        connection.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role}"))
        connection.execute(text(f"REVOKE CREATE ON SCHEMA {schema} FROM {role}"))
        connection.execute(text(f"GRANT CONNECT ON DATABASE {database} TO {role}"))
        connection.execute(text(f"GRANT USAGE ON SCHEMA {schema} TO {role}"))
        connection.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}"))


def copy_database(
    source: Engine, target: Engine, tables: Sequence[str] | None = None
) -> dict[str, int]:
    """Copy tables (not views) with their columns, primary keys, indexes and rows.

    Names are kept exactly (``Order Details`` included); column types are made portable
    (:func:`portable_type`). Foreign keys, defaults and checks stay behind: the ERP layer
    only reads, and without them the tables load in any order. Tables of the same names in
    the target are dropped first, so copying again starts afresh.

    Args:
        source: The database to read.
        target: The database to write.
        tables: Only these tables (default: every table).

    Returns:
        Rows copied per table.

    Raises:
        ValueError: a table asked for is not in the source, or a column cannot be copied.
    """
    names = inspect(source).get_table_names()
    if tables is not None:
        unknown = sorted(set(tables) - set(names))
        if unknown:
            raise ValueError(f"no table {', '.join(map(repr, unknown))} in the source")
        names = [name for name in names if name in tables]
    reflected = MetaData()
    reflected.reflect(source, only=names)
    copies = MetaData()
    for name in names:
        _portable_table(reflected.tables[name], copies)
    _drop(target, names)
    copies.create_all(target)
    rows: dict[str, int] = {}
    with source.connect() as reading, target.begin() as writing:
        for name in names:
            rows[name] = _copy_rows(reading, writing, reflected.tables[name], copies.tables[name])
    return rows


def row_counts(url: str | URL) -> dict[str, int]:
    """Rows per table of the database at ``url``."""
    engine = make_engine(_render(make_url(url)))
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            return {
                name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                for name, table in metadata.tables.items()
            }
    finally:
        engine.dispose()


def portable_type(kind: types.TypeEngine[Any], *, key: bool = False) -> types.TypeEngine[Any]:
    """A reflected column type as one every backend creates and reads back alike.

    SQLite's loose types (``DATETIME`` held as text, ``NUMERIC`` without a precision, untyped
    columns) and MariaDB's and PostgreSQL's own become SQLAlchemy's generic types, so dates
    arrive as dates and money as decimals everywhere.

    Args:
        kind: The type reflected from the source.
        key: The column is in a key or index (text gets a length MariaDB can index).

    Raises:
        ValueError: a type with no portable form (arrays, geometry...).
    """
    try:
        generic = kind.as_generic()
    except NotImplementedError:
        generic = types.NullType()
    if isinstance(generic, types.NullType):
        return _text(key)  # an untyped SQLite column holds text
    if isinstance(generic, types.Boolean):
        return types.Boolean()
    if isinstance(generic, types.Integer):
        return type(generic)()  # Integer, SmallInteger or BigInteger
    if isinstance(generic, types.Float):
        return types.Double()  # REAL is single precision on MariaDB
    if isinstance(generic, types.Numeric):
        precision, scale = (
            (generic.precision, generic.scale) if generic.precision else DEFAULT_NUMERIC
        )
        return types.Numeric(precision, scale or 0)
    if isinstance(generic, types.DateTime):
        return types.DateTime(timezone=generic.timezone)
    if isinstance(generic, types.Date | types.Time | types.Interval | types.Uuid | types.JSON):
        return type(generic)()
    if isinstance(generic, types.LargeBinary):
        return types.LargeBinary().with_variant(mysql.LONGBLOB(), *_MYSQL)
    if isinstance(generic, types.Enum):
        return types.String(max((len(value) for value in generic.enums), default=1))
    if isinstance(generic, types.String):
        if generic.length and not isinstance(generic, types.Text):
            return types.String(generic.length)
        return _text(key)
    raise ValueError(f"no portable form for the column type {kind!r}")


def _text(key: bool) -> types.TypeEngine[Any]:
    if key:
        return types.String(KEY_TEXT_LENGTH)
    return types.Text().with_variant(mysql.LONGTEXT(), *_MYSQL)


def _portable_table(table: Table, metadata: MetaData) -> Table:
    keyed = {column.name for column in table.primary_key.columns}
    keyed |= {column.name for index in table.indexes for column in index.columns}
    columns = []
    for column in table.columns:
        try:
            kind = portable_type(column.type, key=column.name in keyed)
        except ValueError as error:
            raise ValueError(f"{table.name}.{column.name}: {error}") from None
        columns.append(
            Column(
                column.name,
                kind,
                primary_key=column.primary_key,
                nullable=column.nullable,
                autoincrement=False,  # the rows bring their keys
            )
        )
    copy = Table(table.name, metadata, *columns)
    for index in table.indexes:
        names = [column.name for column in index.columns]
        if names and len(names) == len(index.expressions):  # no expression indexes
            Index(_index_name(table.name, names), *(copy.c[n] for n in names), unique=index.unique)
    return copy


def _index_name(table: str, columns: Sequence[str]) -> str:
    """A name unique in the database (PostgreSQL's index names are per schema, not table)."""
    name = re.sub(r"\W+", "_", f"ix_{table}_{'_'.join(columns)}").lower()
    if len(name) <= MAX_INDEX_NAME:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_INDEX_NAME - 9]}_{digest}"


def _drop(target: Engine, names: Sequence[str]) -> None:
    present = set(inspect(target).get_table_names())
    existing = MetaData()
    existing.reflect(target, only=[name for name in names if name in present])
    # Tables another one refers to are reflected too; only the copied names are dropped.
    existing.drop_all(target, tables=[existing.tables[n] for n in names if n in existing.tables])


def _copy_rows(reading: Connection, writing: Connection, source: Table, target: Table) -> int:
    copied = 0
    result = reading.execute(select(source).execution_options(yield_per=BATCH_ROWS))
    for batch in result.partitions():
        writing.execute(insert(target), [row._asdict() for row in batch])
        copied += len(batch)
    return copied
