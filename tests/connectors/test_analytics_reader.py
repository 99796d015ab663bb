"""The analytics readers on SQLite and PostgreSQL: Rasa's ``events`` table as the SQL tracker
store writes it, and the gateway's handoffs, transcript and ratings as its migrations make
them. The synthetic log (analytics_log.py) goes into the databases as rows and must come
back as the same report; the connections must refuse writes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError

from connectors.analytics.compute import compute_report
from connectors.analytics.errors import EventsUnavailable
from connectors.analytics.query import AnalyticsQuery
from connectors.analytics.reader import read_events, read_gateway_facts, read_only_engine
from connectors.analytics.records import GatewayFacts, TrackerEvent
from connectors.store import GatewayStore
from tests.connectors.analytics_log import DAY, EVENTS, FACTS, QUERY, write_log
from tests.postgres import ensure_database

# Our own database: never the gateway's or the ERP's test databases.
ANALYTICS_TEST_POSTGRES_URL = os.environ.get(
    "ANALYTICS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/analytics_test"
)


@dataclass
class Databases:
    """Where the log was written: Rasa's tracker store and the gateway's database."""

    events_url: str
    gateway_url: str


@pytest.fixture(scope="session")
def analytics_postgres() -> str:
    """The PostgreSQL database of these tests, created once; its gateway tables migrated."""
    ensure_database(ANALYTICS_TEST_POSTGRES_URL, what="the analytics reader tests")
    return ANALYTICS_TEST_POSTGRES_URL


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.integration),
    ]
)
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Databases]:
    """The log written to a tracker store and a gateway database of one backend."""
    if request.param == "sqlite":
        events_url = f"sqlite:///{tmp_path / 'rasa_tracker.db'}"
        gateway_url = f"sqlite:///{tmp_path / 'gateway.db'}"
        store = GatewayStore(tmp_path / "gateway.db")
    else:
        events_url = gateway_url = request.getfixturevalue("analytics_postgres")
        store = GatewayStore(gateway_url)
        store.database.execute("TRUNCATE handoffs, transcript, csat RESTART IDENTITY CASCADE")
    driver = "postgresql+psycopg" if request.param == "postgresql" else "sqlite"
    writer = create_engine(make_url(events_url).set(drivername=driver))
    try:
        write_log(writer, store)
    finally:
        writer.dispose()
        store.close()
    yield Databases(events_url, gateway_url)


def read_report(databases: Databases, query: AnalyticsQuery = QUERY) -> Any:
    events_engine = read_only_engine(databases.events_url)
    gateway_engine = read_only_engine(databases.gateway_url)
    try:
        events = read_events(events_engine, query)
        facts = read_gateway_facts(gateway_engine, query)
    finally:
        events_engine.dispose()
        gateway_engine.dispose()
    return events, facts


def test_the_log_read_back_gives_the_same_report(databases: Databases) -> None:
    events, facts = read_report(databases)

    assert compute_report(events, facts, QUERY) == compute_report(EVENTS, FACTS, QUERY)


def test_only_what_the_figures_need_is_read(databases: Databases) -> None:
    events, facts = read_report(databases)

    # Every event of the log comes back as it was; the noise does not.
    assert sorted(events, key=_order) == sorted(EVENTS, key=_order)
    assert {e.sender_id for e in events} & {"web:old"} == set()
    # The agent's message before web:a's handoff, the user's and the bot's are not replies.
    assert sorted((r.conversation_id, r.at - DAY) for r in facts.agent_replies) == [
        ("rest:local:x", 441), ("rest:local:x", 500), ("web:a", 5305), ("web:b", 311),
        ("web:d", -950),
    ]  # fmt: skip
    assert sorted((r.handoff_id, r.score) for r in facts.ratings) == [(1, 4), (2, 2), (4, 5)]
    assert [h.id for h in facts.handoffs] == [4, 1, 2, 3, 5]  # by time


def test_the_channel_and_the_dates_are_in_the_sql(databases: Databases) -> None:
    telegram = AnalyticsQuery(QUERY.start, QUERY.end, "telegram")

    events, facts = read_report(databases, telegram)

    assert {e.sender_id for e in events} == {"telegram:1"}
    assert facts == GatewayFacts()


def test_the_connections_cannot_write(databases: Databases) -> None:
    for url, table in ((databases.events_url, "events"), (databases.gateway_url, "handoffs")):
        engine = read_only_engine(url)
        try:
            with pytest.raises(SQLAlchemyError, match="read-only|readonly"), engine.begin() as c:
                c.execute(text(f"DELETE FROM {table}"))
        finally:
            engine.dispose()


def test_a_missing_tracker_store_is_reported_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    engine = read_only_engine(f"sqlite:///{missing}")
    try:
        with pytest.raises(EventsUnavailable, match="conversation events .* cannot be read"):
            read_events(engine, QUERY)
    finally:
        engine.dispose()
    assert not missing.exists()


def test_a_tracker_store_without_events_is_reported(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    create_engine(f"sqlite:///{empty}").connect().close()
    engine = read_only_engine(f"sqlite:///{empty}")
    try:
        with pytest.raises(EventsUnavailable, match="no such table: events"):
            read_events(engine, QUERY)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "url",
    ["sqlite://", "sqlite:///:memory:", "mysql://root@localhost/x", "not a url"],
    ids=["no file", "in memory", "mysql", "not a url"],
)
def test_only_sqlite_files_and_postgresql_are_accepted(url: str) -> None:
    with pytest.raises(ValueError, match="sqlite|postgresql"):
        read_only_engine(url)


def test_a_broken_row_is_read_without_its_json() -> None:
    from connectors.analytics.reader import tracker_event

    broken = tracker_event("web:a", "user", 1.0, "greet", None, "{not json")
    no_time = tracker_event("web:a", "user", None, "greet", None, "{}")

    assert broken == TrackerEvent("web:a", "user", 1.0, intent="greet")
    assert no_time is None


@pytest.mark.integration
def test_the_postgresql_session_is_read_only(analytics_postgres: str) -> None:
    engine = read_only_engine(analytics_postgres)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SHOW default_transaction_read_only")).scalar() == "on"
            with pytest.raises(SQLAlchemyError, match="read-only transaction"):
                connection.execute(text("CREATE TABLE analytics_must_not_exist (x int)"))
    finally:
        engine.dispose()


def _order(event: TrackerEvent) -> tuple[str, float, str]:
    return event.sender_id, event.timestamp, event.type_name
