"""The action server's state database (erp/state.py) and the audit trail kept in it: on both
backends, one trail for two replicas; a bad ACTIONS_STATE_DATABASE_URL named, an unreachable
database a clear error within seconds."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect

from erp import state
from erp.__main__ import main
from erp.audit import AuditEvent, AuditTrail, audit_trail
from erp.errors import StateSettingsError, StateUnavailable
from erp.state import PASSWORD_ENV, URL_ENV, create_tables, metadata, state_engine, state_url
from tests.actions_state import StateBackend, close_process_stores


def event(conversation: str, outcome: str = "ok", customer: str = "7", at: str = "") -> AuditEvent:
    return AuditEvent(
        conversation, "web", "customer", customer, "orders.get_order_status", "SO-100123",
        outcome, 4.2, at,
    )  # fmt: skip


@pytest.fixture()
def no_state_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No state database in the environment; the process's trail forgotten before and after."""
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    close_process_stores()
    yield
    close_process_stores()


# --- the setting -----------------------------------------------------------------------------


def test_without_a_url_the_state_stays_in_sqlite_files(tmp_path: Path) -> None:
    assert state_url({}) is None
    assert state_url({URL_ENV: "  "}) is None
    engine = state_engine(tmp_path / "sub" / "audit.db", {})
    assert engine.dialect.name == "sqlite" and engine.url.database == str(
        tmp_path / "sub" / "audit.db"
    )
    assert (tmp_path / "sub").is_dir()


def test_the_url_takes_its_password_apart_and_the_psycopg_driver() -> None:
    url = state_url(
        {URL_ENV: "postgresql://acts@db.internal:6432/erp_actions", PASSWORD_ENV: " s3cret "}
    )
    assert url is not None
    assert (url.drivername, url.username, url.host, url.port, url.database) == (
        "postgresql+psycopg", "acts", "db.internal", 6432, "erp_actions",
    )  # fmt: skip
    assert url.password == "s3cret"
    assert "s3cret" not in repr(url)
    assert state_engine(Path("unused.db"), {URL_ENV: str(url)}).dialect.name == "postgresql"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("mysql://acts:pw@db/erp", "must start with postgresql://"),
        ("sqlite:///var/actions.db", "must start with postgresql://"),
        ("postgres://acts:pw@db/erp", "must start with postgresql://"),
        ("postgresql://acts:pw@db:port/erp", "must look like postgresql://user@host:port/database"),
        ("postgresql://acts:pw@db:5432", "the host or the database is missing"),
        ("postgresql://acts:pw@:5432/erp", "the host or the database is missing"),
    ],
    ids=["mysql", "sqlite", "postgres-scheme", "bad-port", "no-database", "no-host"],
)
def test_a_url_that_cannot_be_used_is_named_without_its_password(value: str, message: str) -> None:
    with pytest.raises(StateSettingsError, match=message) as raised:
        state_url({URL_ENV: value})
    assert str(raised.value).startswith(f"{URL_ENV} must ")
    assert "pw" not in str(raised.value)


def test_the_audit_command_names_a_bad_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_state_settings: None
) -> None:
    monkeypatch.setenv(URL_ENV, "mysql://acts:secret@db/erp")

    assert main(["audit"]) == 1

    error = capsys.readouterr().err
    assert f"error: {URL_ENV} must start with postgresql://" in error
    assert "secret" not in error


# --- an unreachable database ---------------------------------------------------------------


def test_a_refused_connection_is_a_clear_error_naming_the_setting(tmp_path: Path) -> None:
    # Port 9 (discard) on loopback: nothing listens there, the refusal is immediate.
    engine = state_engine(tmp_path / "unused.db", {URL_ENV: "postgresql://acts@127.0.0.1:9/acts"})
    with pytest.raises(StateUnavailable) as raised:
        AuditTrail(engine)
    message = str(raised.value)
    assert message.startswith(
        f"the action server's state database at 127.0.0.1:9/acts ({URL_ENV}) cannot be used: "
    )
    assert "\n" not in message and "sqlalche.me" not in message


def test_a_server_that_never_answers_is_given_up_within_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state, "CONNECT_TIMEOUT_SECONDS", 2)  # psycopg's smallest
    with socket.socket() as silent:  # accepts connections (the kernel does), answers nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        url = f"postgresql://acts@127.0.0.1:{port}/acts"
        started = time.monotonic()
        with pytest.raises(StateUnavailable, match=f"at 127.0.0.1:{port}/acts"):
            AuditTrail(state_engine(tmp_path / "unused.db", {URL_ENV: url}))
        assert time.monotonic() - started < 10


def test_the_audit_command_says_the_database_is_unreachable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_state_settings: None
) -> None:
    monkeypatch.setenv(URL_ENV, "postgresql://acts@127.0.0.1:9/acts")

    assert main(["audit", "--conversation", "web:a"]) == 1

    error = capsys.readouterr().err
    assert f"error: the action server's state database at 127.0.0.1:9/acts ({URL_ENV})" in error


# --- the tables and the trail on both backends ------------------------------------------------


def test_replicas_starting_together_create_the_tables_once(state_backend: StateBackend) -> None:
    engines = [state_backend.engine() for _ in range(6)]
    start = threading.Barrier(len(engines))

    def create(n: int) -> None:
        start.wait()
        create_tables(engines[n], metadata.sorted_tables)

    with ThreadPoolExecutor(max_workers=len(engines)) as pool:
        list(pool.map(create, range(len(engines))))  # an error in any thread is raised here

    assert set(inspect(engines[0]).get_table_names()) >= set(metadata.tables)


def test_events_of_two_replicas_are_one_trail_in_order(state_backend: StateBackend) -> None:
    first = AuditTrail(state_backend.engine("audit.db"))
    second = AuditTrail(state_backend.engine("audit.db"))

    for n in range(6):
        (first if n % 2 == 0 else second).record(event("web:a", outcome=f"step-{n}"))

    expected = [f"step-{n}" for n in range(6)]
    assert [e.outcome for e in first.query(conversation="web:a")] == expected
    assert [e.outcome for e in second.query(conversation="web:a")] == expected
    assert [e.outcome for e in second.query(limit=2)] == expected[-2:]  # the latest, in order


def test_the_trail_filters_and_bounds_what_it_keeps(state_backend: StateBackend) -> None:
    trail = AuditTrail(state_backend.engine("audit.db"))
    trail.record(event("web:a", customer="7", at="2026-12-01T09:59:59.999+00:00"))
    trail.record(event("web:b", customer="8", at="2026-12-01T10:00:00.000+00:00"))
    trail.record(event("web:a" + "x" * 500, customer="7", at="2026-12-02T08:00:00.000+00:00"))
    trail.record(event("web:c", customer="8", at="2026-12-02T09:00:00.000+00:00"))

    assert [e.conversation for e in trail.query(customer="8")] == ["web:b", "web:c"]
    assert [e.at[:10] for e in trail.query(since="2026-12-01T10:00")] == ["2026-12-01"] + [
        "2026-12-02"
    ] * 2
    long = trail.query(limit=2)[0]
    assert len(long.conversation) == 120 and long.ms == 4.2
    assert trail.query(conversation="web:a' OR '1'='1") == []  # bound, never spliced in
    assert [e.conversation for e in trail.query(limit=0)] == ["web:c"]  # at least one


def test_an_event_is_stamped_in_utc_when_recorded(state_backend: StateBackend) -> None:
    trail = AuditTrail(state_backend.engine("audit.db"))
    before = datetime.now(UTC).isoformat(timespec="milliseconds")

    trail.record(event("web:now"))

    [recorded] = trail.query(conversation="web:now")
    assert recorded.at.endswith("+00:00") and recorded.at >= before


def test_a_trail_file_from_before_is_read_and_added_to_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with sqlite3.connect(path) as db:  # the schema erp/audit.py wrote before erp/state.py
        db.execute(
            "CREATE TABLE audit_events (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, "
            "conversation TEXT NOT NULL, channel TEXT NOT NULL, actor TEXT NOT NULL, "
            "customer TEXT NOT NULL, operation TEXT NOT NULL, record TEXT NOT NULL, "
            "outcome TEXT NOT NULL, ms REAL NOT NULL)"
        )
        db.execute(
            "INSERT INTO audit_events (at, conversation, channel, actor, customer, operation, "
            "record, outcome, ms) VALUES ('2026-12-01T10:00:00.000+00:00', 'web:old', 'web', "
            "'customer', '7', 'orders.get_order_status', 'SO-1', 'ok', 1.5)"
        )

    trail = AuditTrail(path)
    trail.record(event("web:new"))

    assert [e.conversation for e in trail.query()] == ["web:old", "web:new"]
    trail.close()


def test_the_audit_command_reads_the_trail_the_environment_names(
    state_backend: StateBackend,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state_backend.use(monkeypatch)
    replica = AuditTrail(state_backend.engine("audit.db"))  # an action server writing
    for conversation, outcome in (("web:a", "done"), ("web:b", "ok"), ("web:a", "repeated")):
        replica.record(event(conversation, outcome=outcome))

    assert main(["audit", "--conversation", "web:a"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "done" in lines[0] and "repeated" in lines[1]
    assert audit_trail().engine.dialect.name == state_backend.name
