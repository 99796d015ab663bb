"""Gateway test fixtures: a fake Rasa client and an app factory that stays off the network."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack

import httpx
import pytest

from connectors.fake_platforms import FakePlatforms, serve
from connectors.gateway import create_app
from connectors.settings import GatewaySettings
from tests.connectors.fakes import SETTINGS, FakeRasa, MakeClient, actions_transport


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
