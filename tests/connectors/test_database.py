"""The database layer under failure: a lost or unreachable database is a clear error, and
the next statement after PostgreSQL is back works."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import make_url

from connectors.database import IntegrityError, PostgresDatabase
from connectors.errors import StoreUnavailable
from connectors.store import GatewayStore


def test_an_unreachable_postgresql_is_store_unavailable() -> None:
    database = PostgresDatabase("postgresql://gateway@127.0.0.1:1/gateway")
    try:
        with pytest.raises(StoreUnavailable, match="gateway database"):
            database.query("SELECT 1")
    finally:
        database.close()


@pytest.mark.integration
def test_connections_ended_by_a_restart_cost_one_statement_at_most(gateway_postgres: str) -> None:
    store = GatewayStore(gateway_postgres)
    assert store._query("SELECT 1", ()) == [(1,)]
    plain = make_url(gateway_postgres).render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid != pg_backend_pid()",
            (make_url(gateway_postgres).database,),
        )

    # The pool checks a connection before lending it: the dead ones are replaced.
    assert store._query("SELECT 2", ()) == [(2,)]
    with store.transaction() as db:
        assert db.execute("SELECT 3").fetchone() == (3,)
    store.close()


def test_constraint_errors_are_one_type_on_either_backend(gateway_db: str) -> None:
    store = GatewayStore(gateway_db)
    store._execute("INSERT INTO agent_roles (username, role) VALUES ('a', 'admin')", ())

    with pytest.raises(IntegrityError):
        store._execute("INSERT INTO agent_roles (username, role) VALUES ('a', 'admin')", ())
    with pytest.raises(IntegrityError), store.transaction() as db:
        db.execute("INSERT INTO agent_roles (username, role) VALUES ('b', 'x')")
        db.execute("INSERT INTO agent_roles (username, role) VALUES ('b', 'x')")
    assert store._query("SELECT username FROM agent_roles ORDER BY username", ()) == [("a",)]
