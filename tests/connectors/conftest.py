"""Gateway test fixtures: a fake Rasa client, an app factory that stays off the network, and
the gateway database on each backend (``gateway_db``: SQLite, and PostgreSQL as the replicas
share it)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql
from sqlalchemy import make_url

from benchmarks.fake_platforms import FakePlatforms, serve
from connectors.gateway import create_app
from connectors.settings import GatewaySettings
from connectors.store import GatewayStore
from tests.connectors.fakes import SETTINGS, FakeRasa, MakeClient, actions_transport
from tests.postgres import ensure_database

GATEWAY_TEST_POSTGRES_URL = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/gateway_test"
)


@pytest.fixture(scope="session")
def gateway_postgres() -> str:
    """The PostgreSQL test database of the gateway, created and migrated once per session."""
    ensure_database(GATEWAY_TEST_POSTGRES_URL, what="the gateway tests")
    GatewayStore(GATEWAY_TEST_POSTGRES_URL).close()  # migrate
    return GATEWAY_TEST_POSTGRES_URL


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.integration),
    ]
)
def gateway_db(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """Where a test's gateway store lives: a fresh SQLite file, or the PostgreSQL test
    database with every table emptied. Stores opened on it twice see one database, as two
    processes (or replicas) would. Stores the test leaves open are closed after it."""
    opened: list[GatewayStore] = []
    original = GatewayStore.__init__

    def recording(store: GatewayStore, *args: Any, **kwargs: Any) -> None:
        original(store, *args, **kwargs)
        opened.append(store)

    monkeypatch.setattr(GatewayStore, "__init__", recording)
    if request.param == "sqlite":
        yield str(tmp_path / "gateway.db")
        for store in opened:
            store.close()
        return
    url: str = request.getfixturevalue("gateway_postgres")
    plain = make_url(url).render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as db:
        tables = [row[0] for row in db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename != 'alembic_version'").fetchall()]  # fmt: skip
        db.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
            sql.SQL(", ").join(sql.Identifier(t) for t in tables)))  # fmt: skip
    yield url
    for store in opened:
        store.close()


@pytest.fixture(scope="session")
def served_platforms() -> Iterator[tuple[FakePlatforms, str]]:
    """One fake Telegram Bot API and Slack Web API server for the whole session."""
    fake = FakePlatforms()
    with serve(fake.app) as url:
        yield fake, url


@pytest.fixture
def platforms(served_platforms: tuple[FakePlatforms, str]) -> FakePlatforms:
    """The fake platforms with no recorded calls and no scripted failures."""
    fake, _ = served_platforms
    fake.calls.clear()
    fake.failures.clear()
    return fake


@pytest.fixture
def platforms_url(served_platforms: tuple[FakePlatforms, str]) -> str:
    return served_platforms[1]


@pytest.fixture
def fake_rasa() -> FakeRasa:
    return FakeRasa()


@pytest.fixture
async def make_client(fake_rasa: FakeRasa) -> AsyncIterator[MakeClient]:
    """Build an httpx client for an app wired to ``fake_rasa``, with its lifespan running.

    starlette's TestClient is not used: with httpx (not httpx2) it raises a deprecation
    warning, which filterwarnings turns into an error.
    """
    async with AsyncExitStack() as stack:

        async def make(
            *,
            db_check: Callable[[], bool] = lambda: True,
            actions_status: int = 200,
            settings: GatewaySettings = SETTINGS,
        ) -> httpx.AsyncClient:
            app = create_app(
                settings,
                db_check=db_check,
                rasa_client=fake_rasa,
                transport=actions_transport(actions_status),
            )
            await stack.enter_async_context(app.router.lifespan_context(app))
            return await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw.test")
            )

        yield make


@pytest.fixture
async def client(make_client: MakeClient) -> httpx.AsyncClient:
    return await make_client()


@pytest.fixture(autouse=True)
def generator_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Handoff summaries stay extractive unless a test switches a fake generator in."""
    monkeypatch.setenv("GENERATOR_BACKEND", "off")
