"""The gateway database's schema: Alembic migrations on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import make_url

from connectors.database import open_database
from connectors.migrations import current, head
from connectors.migrations.cli import main as db_command
from connectors.store import GatewayStore


def test_a_new_database_is_at_the_newest_revision_on_either_backend(gateway_db: str) -> None:
    store = GatewayStore(gateway_db)

    assert current(store.database) == head()
    tables = {
        "transcript", "handoffs", "outbox", "handoff_inbox", "agents", "agent_sessions",
        "canned_replies", "slack_handoff_threads", "web_sessions", "handoff_events",
    }  # fmt: skip
    for table in tables:
        assert store._query(f"SELECT COUNT(*) FROM {table}", ()) == [(0,)]


def test_opening_it_again_changes_nothing(gateway_db: str) -> None:
    first = GatewayStore(gateway_db)
    transcript_id = first._query(
        "INSERT INTO transcript (conversation_id, role, body, created_at) "
        "VALUES ('web:a', 'user', '{}', 1) RETURNING id",
        (),
    )[0][0]
    first.close()

    again = GatewayStore(gateway_db)

    assert again._query("SELECT id FROM transcript", ()) == [(transcript_id,)]


def test_an_outbox_from_before_claims_gets_them_and_keeps_its_messages(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT, conversation_id TEXT NOT NULL,
            channel TEXT NOT NULL, body TEXT NOT NULL, created_at REAL NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL,
            last_error TEXT, delivered_at REAL
        );
        INSERT INTO outbox (conversation_id, channel, body, created_at, next_attempt_at)
            VALUES ('web:a', 'web', '{"text": "Hi"}', 1.0, 1.0);
        """
    )
    old.close()

    store = GatewayStore(path)

    assert store._query("SELECT body, claimed_by, claimed_until FROM outbox", ()) == [
        ('{"text": "Hi"}', None, None)
    ]
    assert current(store.database) == head()


@pytest.mark.integration
def test_replicas_starting_together_on_an_empty_database_migrate_it_once(
    gateway_postgres: str,
) -> None:
    url = make_url(gateway_postgres).set(database="gateway_migrate_test")
    admin = url.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(sql.SQL("DROP DATABASE IF EXISTS gateway_migrate_test WITH (FORCE)"))
        db.execute(sql.SQL("CREATE DATABASE gateway_migrate_test"))
    location = url.render_as_string(hide_password=False)
    errors: list[BaseException] = []
    revisions: list[str | None] = []

    def start() -> None:
        try:
            database = open_database(location)
            revisions.append(current(database))
            database.close()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert revisions == [head()] * 4
    with psycopg.connect(location) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(head(),)]


def test_the_db_command_says_where_the_database_stands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"GATEWAY_DB": str(tmp_path / "gateway.db")}

    assert db_command(["current"], env) == 0
    assert db_command(["upgrade"], env) == 0
    assert db_command(["current"], env) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(f"revision none (newest {head()})")
    assert lines[2].endswith(f"revision {head()} (newest {head()})")
    assert db_command(["current"], {"GATEWAY_DATABASE_URL": "mysql://x"}) == 2
