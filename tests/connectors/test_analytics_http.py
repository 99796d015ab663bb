"""The analytics page and its API behind the agent console's login: 401 without a session,
403 for every role but admin and support, the figures with their filters, CSV, the charts,
400 for bad parameters, 503 when the events cannot be read, and concurrent requests."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine
from starlette.applications import Starlette

from connectors.agents.auth import SESSION_COOKIE, AgentAuth
from connectors.agents.canned import CannedReplies
from connectors.agents.console import AgentConsole
from connectors.agents.settings import AgentSettings
from connectors.analytics.charts import FIGURES
from connectors.analytics.http import AnalyticsPages
from connectors.analytics.service import AnalyticsService, AnalyticsSources
from connectors.handoff.queue import HandoffQueue
from connectors.roles import ROLES
from connectors.settings import GatewaySettings
from connectors.store import GatewayStore
from tests.connectors.analytics_log import write_log
from tests.connectors.fakes import MakeClient

PASSWORD = "correct horse battery"
TODAY = date(2026, 11, 3)
RANGE = "from=2026-11-02&to=2026-11-03"
REFUSED = {"error": "the analytics are for agents with the admin or support role"}
API = ["/agent/api/analytics", "/agent/api/analytics.csv",
       "/agent/api/analytics/plot.svg?figure=per_day"]  # fmt: skip


@dataclass
class Site:
    """The console with the analytics pages, over the synthetic log in SQLite files."""

    app: Starlette
    auth: AgentAuth
    service: AnalyticsService
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def client(self) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                   base_url="http://gw.test")  # fmt: skip
        self.clients.append(client)
        return client

    async def agent(self, username: str, *roles: str) -> httpx.AsyncClient:
        """A logged-in agent holding ``roles``."""
        self.auth.add_agent(username, PASSWORD)
        for role in roles:
            self.auth.set_role(username, role, granted=True)
        client = self.client()
        response = await client.post(
            "/agent/api/login", json={"username": username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return client


def logged_databases(tmp_path: Path) -> AnalyticsSources:
    """The synthetic log in a tracker store file and a gateway database file."""
    tracker, gateway = tmp_path / "rasa_tracker.db", tmp_path / "gateway.db"
    writer = create_engine(f"sqlite:///{tracker}")
    store = GatewayStore(gateway)
    try:
        write_log(writer, store)
    finally:
        writer.dispose()
        store.close()
    return AnalyticsSources(events_url=f"sqlite:///{tracker}", gateway_url=f"sqlite:///{gateway}")


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    sources = logged_databases(tmp_path)
    store = GatewayStore(tmp_path / "gateway.db")  # the agents live there too
    auth = AgentAuth(store, AgentSettings())
    service = AnalyticsService(sources)
    pages = AnalyticsPages(auth, service, today=lambda: TODAY)
    console = AgentConsole(auth, HandoffQueue(store), CannedReplies(store), analytics=pages)
    built = Site(Starlette(routes=console.routes()), auth, service)
    yield built
    for client in built.clients:
        await client.aclose()
    service.close()
    store.close()


# --- who may see it -----------------------------------------------------------------------


@pytest.mark.parametrize("path", API, ids=["json", "csv", "plot"])
async def test_the_api_needs_a_session(site: Site, path: str) -> None:
    client = site.client()
    client.cookies.set(SESSION_COOKIE, "forged-or-expired-token", domain="gw.test")

    response = await client.get(path)

    assert response.status_code == 401
    assert response.json() == {"error": "log in first: no valid agent session"}


async def test_the_page_sends_a_visitor_without_a_session_to_the_login(site: Site) -> None:
    response = await site.client().get("/agent/analytics")

    assert response.status_code == 303
    assert response.headers["location"] == "/agent"


OTHER_ROLES = [role for role in ROLES if role not in ("admin", "support")]


@pytest.mark.parametrize("roles", [(), *[(r,) for r in OTHER_ROLES]],
                         ids=["no role", *OTHER_ROLES])  # fmt: skip
async def test_other_roles_are_refused_with_the_roles_that_may(
    site: Site, roles: tuple[str, ...]
) -> None:
    agent = await site.agent("olga", *roles)

    for path in API:
        response = await agent.get(path)
        assert response.status_code == 403, path
        assert response.json() == REFUSED
    page = await agent.get("/agent/analytics")
    assert page.status_code == 403
    assert "admin or support role" in page.text


@pytest.mark.parametrize("role", ["admin", "support"])
async def test_admin_and_support_see_the_page_and_the_figures(site: Site, role: str) -> None:
    agent = await site.agent("lead", role)

    page = await agent.get("/agent/analytics")
    response = await agent.get(f"/agent/api/analytics?{RANGE}")

    assert page.status_code == 200 and "/static/analytics.js" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert response.status_code == 200
    report = response.json()
    assert (report["start"], report["end"], report["channel"]) == ("2026-11-02", "2026-11-03", None)
    assert report["conversations"] == 7
    assert (report["contained"], report["with_handoff"], report["ended_unanswered"]) == (2, 4, 1)
    assert report["unanswered_questions"][0]["text"] == "Do you sell gift cards"
    assert report["csat"]["average"] == 3.0
    assert report["first_response"]["median_seconds"] == 90
    assert response.headers["cache-control"] == "no-store"


async def test_a_revoked_role_is_refused_at_the_next_request(site: Site) -> None:
    agent = await site.agent("lead", "support")
    assert (await agent.get("/agent/api/analytics")).status_code == 200

    site.auth.set_role("lead", "support", granted=False)

    assert (await agent.get("/agent/api/analytics")).status_code == 403


# --- filters, CSV, charts -----------------------------------------------------------------


async def test_the_filters_choose_the_days_and_the_channel(site: Site) -> None:
    agent = await site.agent("lead", "support")

    web = (await agent.get(f"/agent/api/analytics?{RANGE}&channel=web")).json()
    first_day = (await agent.get("/agent/api/analytics?from=2026-11-02&to=2026-11-02")).json()
    default = (await agent.get("/agent/api/analytics")).json()
    every = (await agent.get(f"/agent/api/analytics?{RANGE}&channel=all")).json()

    assert (web["channel"], web["conversations"], web["with_handoff"]) == ("web", 4, 3)
    assert first_day["conversations"] == 6 and len(first_day["per_day"]) == 1
    # Without dates: the 30 days up to today, with web:d (11-01) and web:old (10-31) too.
    assert (default["start"], default["end"]) == ("2026-10-05", "2026-11-03")
    assert default["conversations"] == 9 and len(default["per_day"]) == 30
    assert every["channel"] is None and every["conversations"] == 7


async def test_the_csv_export_has_every_figure_with_the_filters(site: Site) -> None:
    agent = await site.agent("lead", "admin")

    response = await agent.get(f"/agent/api/analytics.csv?{RANGE}&channel=web")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="analytics-2026-11-02-2026-11-03-web.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["section", "name", "value"]
    assert ["range", "channel", "web"] in rows
    assert ["summary", "conversations", "4"] in rows
    assert ["summary", "handoff_rate", "0.75"] in rows
    assert ["conversations_per_day", "2026-11-02", "4"] in rows
    assert ["unanswered_questions", "Do you sell gift cards", "2"] in rows
    assert ["first_response", "median_seconds", "195"] in rows


async def test_each_chart_is_an_svg_image_that_runs_nothing(site: Site) -> None:
    agent = await site.agent("lead", "support")

    for figure in FIGURES:
        response = await agent.get(f"/agent/api/analytics/plot.svg?{RANGE}&figure={figure}")

        assert response.status_code == 200, figure
        assert response.headers["content-type"] == "image/svg+xml"
        assert response.headers["content-security-policy"] == "default-src 'none'"
        assert response.text.startswith("<svg") and "<script" not in response.text


# --- bad parameters -----------------------------------------------------------------------

BAD = [
    ("from=2026-13-01", "from is not a day of the calendar: 2026-13-01"),
    ("from=yesterday", "from must be a date written YYYY-MM-DD, got 'yesterday'"),
    ("to=2026/11/02", "to must be a date written YYYY-MM-DD, got '2026/11/02'"),
    ("from=2026-11-05&to=2026-11-01", "from (2026-11-05) is after to (2026-11-01)"),
    ("from=2025-01-01&to=2026-11-03",
     "the range from 2025-01-01 to 2026-11-03 is 672 days; at most 366 at once"),
    ("channel=fax", "channel must be one of web, rest, telegram, slack, console (or empty for "
                    "all), got 'fax'"),
    ("form=2026-11-01", "unknown parameter 'form'; the parameters: from, to, channel"),
]  # fmt: skip


@pytest.mark.parametrize(("query", "message"), BAD,
                         ids=["no such month", "words", "slashes", "from after to",
                              "over a year", "unknown channel", "unknown parameter"])  # fmt: skip
async def test_bad_parameters_are_400_with_what_was_wrong(
    site: Site, query: str, message: str
) -> None:
    agent = await site.agent("lead", "support")

    for path in API:
        joiner = "&" if "?" in path else "?"
        response = await agent.get(f"{path}{joiner}{query}")
        assert response.status_code == 400, path
        assert response.json()["error"].startswith(message.split("; the parameters")[0]), path


async def test_an_unknown_chart_is_400(site: Site) -> None:
    agent = await site.agent("lead", "support")

    response = await agent.get("/agent/api/analytics/plot.svg?figure=pie")

    assert response.status_code == 400
    assert response.json()["error"].startswith("figure must be one of per_day, per_channel")


async def test_a_year_is_allowed(site: Site) -> None:
    agent = await site.agent("lead", "support")

    response = await agent.get("/agent/api/analytics?from=2025-11-03&to=2026-11-03")

    assert response.status_code == 200
    assert len(response.json()["per_day"]) == 366


async def test_unreadable_events_are_503_naming_the_source(tmp_path: Path) -> None:
    store = GatewayStore(tmp_path / "gateway.db")
    auth = AgentAuth(store, AgentSettings())
    sources = AnalyticsSources(
        events_url=f"sqlite:///{tmp_path / 'missing.db'}",
        gateway_url=f"sqlite:///{tmp_path / 'gateway.db'}",
    )
    service = AnalyticsService(sources)
    console = AgentConsole(auth, HandoffQueue(store), CannedReplies(store),
                           analytics=AnalyticsPages(auth, service))  # fmt: skip
    built = Site(Starlette(routes=console.routes()), auth, service)
    try:
        agent = await built.agent("lead", "admin")
        response = await agent.get("/agent/api/analytics")
    finally:
        for client in built.clients:
            await client.aclose()
        service.close()
        store.close()

    assert response.status_code == 503
    assert response.json()["error"].startswith(
        "the conversation events (ANALYTICS_EVENTS_URL) cannot be read: unable to open"
    )


# --- load ---------------------------------------------------------------------------------


async def test_twenty_requests_at_once_are_all_answered(site: Site) -> None:
    agent = await site.agent("lead", "support")
    paths = (
        [
            f"/agent/api/analytics?{RANGE}&channel={channel}"
            for channel in ("", "web", "rest", "telegram", "slack")
        ]
        * 2
        + [f"/agent/api/analytics/plot.svg?{RANGE}&figure=per_day"] * 5
        + [f"/agent/api/analytics.csv?{RANGE}"] * 5
    )

    responses = await asyncio.wait_for(asyncio.gather(*(agent.get(p) for p in paths)), 30)

    assert len(responses) == 20
    assert [r.status_code for r in responses] == [200] * 20
    conversations = [r.json()["conversations"] for r in responses[:10]]
    assert conversations == [7, 4, 1, 1, 1] * 2


# --- the gateway as it is started ---------------------------------------------------------


async def test_the_gateway_serves_the_analytics_from_its_settings(
    make_client: MakeClient, tmp_path: Path
) -> None:
    sources = logged_databases(tmp_path)
    settings = GatewaySettings(
        rasa_url="http://rasa.test:5005",
        action_server_url="http://actions.test:5055",
        gateway_db=str(tmp_path / "gateway.db"),
        analytics_events_url=sources.events_url,
    )
    store = GatewayStore(tmp_path / "gateway.db")
    auth = AgentAuth(store, AgentSettings())
    auth.add_agent("lead", PASSWORD)
    auth.set_role("lead", "support", granted=True)
    store.close()
    client = await make_client(settings=settings)

    login = await client.post("/agent/api/login", json={"username": "lead", "password": PASSWORD})
    response = await client.get(f"/agent/api/analytics?{RANGE}")

    assert login.status_code == 200
    assert response.status_code == 200
    assert response.json()["conversations"] == 7
