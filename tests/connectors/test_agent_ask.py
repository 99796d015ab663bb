"""The console's Ask panel through the whole gateway: an agent talks to the assistant as
staff, on the same turn path as Slack; who is asking and what they may change come from the
session and the agent's roles, never from the request; bad input, an unavailable assistant,
rate limits, a colleague's reply and many agents at once."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from connectors.agents.console import STATIC_DIR
from connectors.gateway import create_app
from connectors.messages import Button, OutgoingMessage
from connectors.roles import ADMIN, FINANCE, ROLES, SALES, SUPPORT, WAREHOUSE, WRITER
from tests.connectors.fakes import SETTINGS, FakeRasa, actions_transport, chart_reply, tiny_png

PASSWORD = "correct horse battery"


@dataclasses.dataclass
class Gateway:
    app: Starlette
    rasa: FakeRasa
    clients: list[httpx.AsyncClient]

    def client(self) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                   base_url="http://gw.test")  # fmt: skip
        self.clients.append(client)
        return client

    async def agent(self, username: str, *roles: str) -> Agent:
        auth = self.app.state.agents.auth
        if auth.get_agent(username) is None:
            auth.add_agent(username, PASSWORD, username.title())
        for role in roles:
            auth.set_role(username, role, granted=True)
        http = self.client()
        login = await http.post("/agent/api/login",
                                json={"username": username, "password": PASSWORD})  # fmt: skip
        assert login.status_code == 200, login.text
        return Agent(username, http, login.json()["csrf_token"])


@dataclasses.dataclass
class Agent:
    username: str
    http: httpx.AsyncClient
    csrf: str

    async def ask(self, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf, **(headers or {})}
        return await self.http.post("/agent/api/ask", json=body, headers=headers)

    async def history(self) -> dict[str, Any]:
        response = await self.http.get("/agent/api/ask")
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
async def gateway(fake_rasa: FakeRasa) -> AsyncIterator[Gateway]:
    app = create_app(SETTINGS, db_check=lambda: True, rasa_client=fake_rasa,
                     transport=actions_transport())  # fmt: skip
    built = Gateway(app, fake_rasa, [])
    async with app.router.lifespan_context(app):
        yield built
        for client in built.clients:
            await client.aclose()


async def test_an_agent_asks_as_staff_and_nothing_in_the_body_changes_who_asks(
    gateway: Gateway,
) -> None:
    alice = await gateway.agent("alice")

    response = await alice.ask({
        "text": "where is order SO-100123",
        "sender_id": "web:someone-else",
        "metadata": {"role": "customer", "staff_writes": True, "client": "web:x"},
        "staff_writes": True,
    })  # fmt: skip

    assert response.status_code == 200, response.text
    assert response.json() == {"messages": [{"text": "hello", "buttons": []}]}
    [sent] = gateway.rasa.received
    assert (sent.sender_id, sent.channel, sent.client) == ("console:alice", "console",
                                                           "console:alice")  # fmt: skip
    assert sent.staff is True and sent.staff_writes is False  # looking up only: no role
    assert sent.staff_roles == frozenset() and sent.metadata == {}


@pytest.mark.parametrize("roles", [(SALES,), (FINANCE, WAREHOUSE), (SUPPORT,), (ADMIN,)])
async def test_the_agents_roles_go_with_each_message_and_a_revoke_counts_at_once(
    gateway: Gateway, roles: tuple[str, ...]
) -> None:
    erin = await gateway.agent("erin", *roles)

    assert (await erin.ask({"text": "receivables ageing"})).status_code == 200
    assert (await erin.history())["roles"] == [r for r in ROLES if r in roles]
    gateway.app.state.agents.auth.set_role("erin", roles[0], granted=False)
    await erin.ask({"text": "receivables ageing"})

    first, second = gateway.rasa.received
    assert first.staff_roles == set(roles) and second.staff_roles == set(roles[1:])


async def test_roles_claimed_in_the_body_or_metadata_do_not_count(gateway: Gateway) -> None:
    frank = await gateway.agent("frank", SALES)

    await frank.ask({"text": "ageing", "roles": [ADMIN], "metadata": {"roles": [ADMIN]}})

    [sent] = gateway.rasa.received
    assert sent.staff_roles == {SALES} and sent.metadata == {}


@pytest.mark.parametrize("role", [WRITER, ADMIN])
async def test_writers_and_admins_may_change_orders_until_the_role_is_revoked(
    gateway: Gateway, role: str
) -> None:
    bob = await gateway.agent("bob", role)

    assert (await bob.ask({"text": "cancel order SO-100123"})).status_code == 200
    assert (await bob.history())["may_change_orders"] is True
    gateway.app.state.agents.auth.set_role("bob", role, granted=False)
    assert (await bob.ask({"text": "/affirm"})).status_code == 200  # the same session

    assert [m.staff_writes for m in gateway.rasa.received] == [True, False]
    assert (await bob.history())["may_change_orders"] is False


async def test_me_names_the_roles_and_the_ask_panel(gateway: Gateway) -> None:
    carol = await gateway.agent("carol", WRITER, ADMIN)

    me = (await carol.http.get("/agent/api/me")).json()

    assert me["roles"] == [ADMIN, WRITER] and me["ask"] is True


async def test_the_conversation_reads_back_with_button_titles(
    gateway: Gateway, fake_rasa: FakeRasa
) -> None:
    fake_rasa.replies = [OutgoingMessage(
        text="Shall I cancel order SO-100123?",
        buttons=[Button("Yes, cancel it", "/affirm"), Button("No", "/deny")],
    )]  # fmt: skip
    alice = await gateway.agent("alice", WRITER)
    await alice.ask({"text": "cancel order SO-100123"})
    await alice.ask({"text": "/affirm"})  # the button, clicked

    history = await alice.history()

    assert history["conversation"] == "console:alice"
    assert [(e["role"], e["text"]) for e in history["transcript"]] == [
        ("user", "cancel order SO-100123"),
        ("bot", "Shall I cancel order SO-100123?"),
        ("user", "Yes, cancel it"),
        ("bot", "Shall I cancel order SO-100123?"),
    ]
    assert history["transcript"][1]["buttons"][0] == {"title": "Yes, cancel it",
                                                      "payload": "/affirm"}  # fmt: skip
    # Each agent reads only their own conversation.
    dave = await gateway.agent("dave")
    assert (await dave.history())["transcript"] == []


async def test_asking_needs_a_session_the_csrf_token_and_the_same_site(gateway: Gateway) -> None:
    alice = await gateway.agent("alice", WRITER)
    stranger = gateway.client()

    assert (await stranger.get("/agent/api/ask")).status_code == 401
    assert (await stranger.post("/agent/api/ask", json={"text": "hi"})).status_code == 401
    no_token = await alice.http.post("/agent/api/ask", json={"text": "cancel SO-100123"})
    assert no_token.status_code == 403 and "X-CSRF-Token" in no_token.json()["error"]
    cross_site = await alice.ask({"text": "cancel SO-100123"},
                                 headers={"Origin": "https://evil.example"})  # fmt: skip
    assert cross_site.status_code == 403
    assert gateway.rasa.received == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"text": 42}, "text must be a string"),
        ({}, "text must be a string"),
        ({"text": "   \t\n "}, "empty"),
        ({"text": "x" * 2001}, "2000"),
        (["text"], "JSON object"),
    ],
    ids=["number", "missing", "blank", "oversized", "not-an-object"],
)
async def test_bad_messages_get_a_clear_400(gateway: Gateway, body: Any, reason: str) -> None:
    alice = await gateway.agent("alice")

    response = await alice.ask(body)

    assert response.status_code == 400 and reason in response.json()["error"], response.text
    assert gateway.rasa.received == []


async def test_odd_unicode_reaches_the_assistant_cleaned(gateway: Gateway) -> None:
    alice = await gateway.agent("alice")

    response = await alice.ask({"text": "is ＷＩＤ-1001 in stock? 🙂\u202e"})

    assert response.status_code == 200
    assert gateway.rasa.received[0].text.startswith("is ")


async def test_an_unavailable_assistant_is_a_503_with_the_reason(gateway: Gateway) -> None:
    alice = await gateway.agent("alice")
    gateway.rasa.up = False

    response = await alice.ask({"text": "where is SO-100123"})

    assert response.status_code == 503
    assert "temporarily unavailable" in response.json()["error"]


async def test_an_agent_over_the_rate_limit_is_told_when_to_retry(gateway: Gateway) -> None:
    alice = await gateway.agent("alice")
    statuses = [(await alice.ask({"text": f"stock of WID-{1000 + n}"})).status_code
                for n in range(SETTINGS.rate_limit_burst + 1)]  # fmt: skip

    assert statuses[:-1] == [200] * SETTINGS.rate_limit_burst
    limited = await alice.ask({"text": "one more"})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert "faster than I can answer" in limited.json()["error"]
    # Another agent is a different client.
    bob = await gateway.agent("bob")
    assert (await bob.ask({"text": "stock of WID-1001"})).status_code == 200


async def test_twenty_messages_at_once_from_two_agents_stay_in_their_conversations(
    gateway: Gateway,
) -> None:
    alice, bob = await gateway.agent("alice", WRITER), await gateway.agent("bob")

    responses = await asyncio.gather(*(
        (alice if n % 2 else bob).ask({"text": f"where is order SO-{100100 + n}"})
        for n in range(20)
    ))  # fmt: skip

    assert [r.status_code for r in responses] == [200] * 20
    by_sender = {(m.sender_id, m.staff_writes) for m in gateway.rasa.received}
    assert by_sender == {("console:alice", True), ("console:bob", False)}
    assert len((await alice.history())["transcript"]) == 20  # 10 questions, 10 answers


async def test_a_colleagues_reply_reaches_the_agent_who_asked_for_a_person(
    gateway: Gateway,
) -> None:
    alice, bob = await gateway.agent("alice"), await gateway.agent("bob")

    asked = await alice.ask({"text": "/request_human"})
    assert asked.status_code == 200
    [handoff] = (await bob.http.get("/agent/api/handoffs")).json()["handoffs"]
    assert handoff["conversation_id"] == "console:alice" and handoff["queue"] == "staff"
    csrf = {"X-CSRF-Token": bob.csrf}
    assert (await bob.http.post(f"/agent/api/handoffs/{handoff['id']}/claim",
                                headers=csrf)).is_success  # fmt: skip
    await bob.http.post(f"/agent/api/handoffs/{handoff['id']}/reply", headers=csrf,
                        json={"text": "Bob here, what do you need?"})  # fmt: skip

    texts = [(e["role"], e["text"]) for e in (await alice.history())["transcript"]]
    assert ("agent", "Bob here, what do you need?") in texts
    # While Bob has it, Alice's next message goes to him, not to the assistant.
    await alice.ask({"text": "the stock of WID-1001 please"})
    assert gateway.rasa.received == []


async def test_a_chart_reply_reaches_the_console_as_an_image_and_its_line_stays(
    gateway: Gateway, fake_rasa: FakeRasa
) -> None:
    fake_rasa.replies = [OutgoingMessage(text="About 5 a day."), chart_reply()]
    alice = await gateway.agent("alice", "warehouse")

    response = await alice.ask({"text": "chart the stock of WID-1001"})

    assert response.status_code == 200, response.text
    said, shown = response.json()["messages"]
    assert said == {"text": "About 5 a day.", "buttons": []}
    chart = shown["chart"]
    assert chart["src"] == "data:image/png;base64," + base64.b64encode(tiny_png()).decode()
    assert (chart["title"], chart["alt"]) == (
        "WID-1001: sales and stock",
        "Sales of about 5 a day; runs out around 12 November.",
    )
    assert "custom" not in shown  # the raw payload is not sent twice
    *_, entry = (await alice.history())["transcript"]
    assert entry["text"] == "[chart] WID-1001: sales and stock"
    assert entry["chart"]["digest"] == chart["digest"]
    assert "base64" not in json.dumps(entry)  # the transcript keeps the line, not the picture


async def test_a_malformed_chart_is_left_out_of_the_console(
    gateway: Gateway, fake_rasa: FakeRasa
) -> None:
    fake_rasa.replies = [OutgoingMessage(custom={"chart": {"title": "x", "png": "R0lGODlh"}})]
    alice = await gateway.agent("alice")

    response = await alice.ask({"text": "chart please"})

    assert response.json() == {"messages": [{"text": None, "buttons": []}]}


async def test_the_console_page_may_show_data_images_and_its_script_draws_charts(
    gateway: Gateway,
) -> None:
    page = await gateway.client().get("/agent")

    assert "img-src 'self' https: data:" in page.headers["content-security-policy"]
    script = (STATIC_DIR / "agent.js").read_text()
    assert 'document.createElement("img")' in script
    assert "state.charts.get(entry.chart.digest)" in script
    assert "chart.src.startsWith(CHART_SRC)" in script and '"data:image/png;base64,"' in script
