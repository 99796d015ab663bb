"""Engine configuration, schema helpers, and unreachable databases becoming ErpUnavailable."""

from __future__ import annotations

import socket
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from erp import db
from erp.db import (
    create_schema,
    database_url,
    drop_schema,
    get_engine,
    make_engine,
    ping,
    reset_engine_cache,
    session_scope,
)
from erp.errors import ErpUnavailable
from erp.models import Customer, SalesOrder
from erp.orders import get_order_status
from erp.settings import POOL_SIZE


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    "url_template",
    [
        "postgresql+psycopg://postgres@127.0.0.1:{port}/erp",
        "mysql+pymysql://root@127.0.0.1:{port}/erp",
    ],
    ids=["postgresql", "mariadb"],
)
def test_closed_port_raises_erp_unavailable(url_template: str) -> None:
    engine = make_engine(url_template.format(port=_closed_port()))
    try:
        assert ping(engine) is False
        with pytest.raises(ErpUnavailable) as error, session_scope(engine) as session:
            get_order_status("SO-100123", customer_id=1, session=session)
        assert str(error.value) == "the ERP system is not reachable right now"
        assert error.value.detail
    finally:
        engine.dispose()


def test_unopenable_sqlite_file_raises_erp_unavailable(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'erp.db'}")
    try:
        with pytest.raises(ErpUnavailable), session_scope(engine) as session:
            session.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def test_missing_schema_raises_erp_unavailable(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(ErpUnavailable), session_scope(engine) as session:
            session.scalars(select(Customer)).all()
    finally:
        engine.dispose()


def test_bad_data_is_not_reported_as_unavailable(erp_engine: Engine) -> None:
    # An unknown status breaks a CHECK constraint: a bug in the caller, not an outage.
    with pytest.raises((IntegrityError, OperationalError)), session_scope(erp_engine) as session:
        session.execute(
            insert(SalesOrder).values(
                order_number="SO-199997",
                customer_id=1,
                status="lost",
                order_date=date(2026, 1, 1),
                total=1,
            )
        )


def test_ping_reaches_the_seeded_database(erp_engine: Engine) -> None:
    assert ping(erp_engine) is True


def test_session_scope_commits_and_rolls_back(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'tx.db'}")
    try:
        create_schema(engine)
        row = {"name": "A Ltd", "email": "a@a.co.uk", "postcode": "M1 1AE", "phone": "+44"}
        with session_scope(engine) as session:
            session.execute(insert(Customer), [row])
        with pytest.raises(RuntimeError), session_scope(engine) as session:
            session.execute(insert(Customer), [{**row, "email": "b@b.co.uk"}])
            raise RuntimeError("abort")
        with session_scope(engine) as session:
            assert list(session.scalars(select(Customer.email))) == ["a@a.co.uk"]
        drop_schema(engine)
        with pytest.raises(ErpUnavailable), session_scope(engine) as session:
            session.scalars(select(Customer)).all()
    finally:
        engine.dispose()


def test_sqlite_enforces_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fk.db'}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()


def test_database_url_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERP_DATABASE_URL", "postgresql+psycopg://u@h/erp")
    assert database_url() == "postgresql+psycopg://u@h/erp"
    monkeypatch.delenv("ERP_DATABASE_URL")
    assert database_url() == f"sqlite:///{db.DEFAULT_SQLITE_PATH}"
    assert db.DEFAULT_SQLITE_PATH.parent.is_dir()


def test_get_engine_is_cached_until_reset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    reset_engine_cache()
    monkeypatch.setenv("ERP_DATABASE_URL", f"sqlite:///{tmp_path / 'one.db'}")
    try:
        first = get_engine()
        assert get_engine() is first
        monkeypatch.setenv("ERP_DATABASE_URL", f"sqlite:///{tmp_path / 'two.db'}")
        reset_engine_cache()
        second = get_engine()
        assert second is not first
        assert second.url.database == str(tmp_path / "two.db")
    finally:
        reset_engine_cache()


# --- the assistant's own connections: read-only, bounded statements, a sized pool ---------

_RUNAWAY = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
    "WHERE x < 1000000000) SELECT count(*) FROM c",
    "postgresql": "SELECT pg_sleep(30)",
    "mysql": "SELECT SLEEP(30)",
}


def _reader(erp_engine: Engine) -> Engine:
    return make_engine(erp_engine.url.render_as_string(hide_password=False), read_only=True)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE sales_orders SET status = 'cancelled'",
        "DELETE FROM payments",
        "INSERT INTO warehouses (code, name, city) VALUES ('ZZZ', 'x', 'y')",
        "CREATE TABLE probe_write (x INTEGER)",
    ],
    ids=["update", "delete", "insert", "create"],
)
def test_the_assistants_connection_cannot_write(erp_engine: Engine, statement: str) -> None:
    counted = "SELECT (SELECT count(*) FROM payments) + (SELECT count(*) FROM warehouses)"
    with erp_engine.connect() as connection:
        before = connection.execute(text(counted)).scalar()
    reader = _reader(erp_engine)
    try:
        with reader.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM sales_orders")).scalar()
        with pytest.raises(DBAPIError), reader.begin() as connection:
            connection.execute(text(statement))
    finally:
        reader.dispose()
    with erp_engine.connect() as connection:
        assert connection.execute(text(counted)).scalar() == before
    assert "probe_write" not in inspect(erp_engine).get_table_names()


def test_get_engine_is_the_read_only_one(
    erp_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ERP_DATABASE_URL", erp_engine.url.render_as_string(hide_password=False))
    reset_engine_cache()
    try:
        with pytest.raises(DBAPIError), get_engine().begin() as connection:
            connection.execute(text("DELETE FROM order_lines"))
    finally:
        reset_engine_cache()


def test_a_runaway_query_is_cancelled_and_reads_as_unavailable(
    erp_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ERP_STATEMENT_TIMEOUT_MS", "300")
    reader = _reader(erp_engine)
    try:
        # Each would run for 30 s or more; cancelled, it raises instead of returning.
        with pytest.raises(ErpUnavailable), session_scope(reader) as session:
            session.execute(text(_RUNAWAY[reader.dialect.name]))
        with session_scope(reader) as session:  # the connection is usable afterwards
            assert session.execute(text("SELECT 1")).scalar() == 1
    finally:
        reader.dispose()


def test_the_pool_is_sized_by_erp_pool_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'pool.db'}"
    make_engine(url).dispose()
    default = make_engine(url, read_only=True)
    monkeypatch.setenv("ERP_POOL_SIZE", "3")
    small = make_engine(url, read_only=True)
    try:
        assert default.pool.size() == POOL_SIZE.default  # type: ignore[attr-defined]
        assert small.pool.size() == 3  # type: ignore[attr-defined]
    finally:
        default.dispose()
        small.dispose()
    for bad in ("0", "many", "1000"):
        monkeypatch.setenv("ERP_POOL_SIZE", bad)
        with pytest.raises(ValueError, match="ERP_POOL_SIZE"):
            make_engine(url, read_only=True)
    monkeypatch.setenv("ERP_STATEMENT_TIMEOUT_MS", "5")
    with pytest.raises(ValueError, match="ERP_STATEMENT_TIMEOUT_MS"):
        make_engine(url, read_only=True)
