"""The agent console's JSON API and live stream against the real handoff queue: sessions,
cookies and CSRF, the queue, claim races (exactly one winner, 409 for the other), replies
reaching the customer, hand-back, canned replies, and the page's strict CSP."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from connectors.agents import console as console_module
from connectors.agents.auth import SESSION_COOKIE, AgentAuth
from connectors.agents.canned import CannedReplies, load_defaults
from connectors.agents.console import STATIC_DIR, AgentConsole, stop_streams
from connectors.agents.settings import AgentSettings
from connectors.gateway import create_app
from connectors.handoff.queue import HandoffQueue, Trigger
from connectors.messages import OutgoingMessage
from connectors.store import GatewayStore
from tests.connectors.fakes import (
    SETTINGS,
    EventStream,
    FakeRasa,
    actions_transport,
    open_event_stream,
)

PASSWORD = "correct horse battery"
CANNED_FILE = Path(__file__).resolve().parents[2] / "data" / "handoff" / "canned_replies.yml"
ASKED = Trigger("user_request", 0.97, "asked for a person: 'get me a human'")
ANGRY = Trigger("frustration", 0.91, "frustration 0.91 >= 0.80 on 'this is useless'")


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Customer:
    """A web channel sender that records what reached the customer."""

    received: list[tuple[str, OutgoingMessage]] = field(default_factory=list)

    async def __call__(self, conversation_id: str, messages: list[OutgoingMessage]) -> None:
        self.received += [(conversation_id, m) for m in messages]

    def texts(self, conversation_id: str) -> list[str]:
        return [m.text or "" for c, m in self.received if c == conversation_id]


@dataclass
class Console:
    app: Starlette
    store: GatewayStore
    auth: AgentAuth
    queue: HandoffQueue
    customer: Customer
    clock: Clock
    clients: list[httpx.AsyncClient]

    async def client(self, *, base_url: str = "http://gw.test") -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=base_url)
        self.clients.append(client)
        return client

    async def agent(self, username: str) -> Agent:
        """A logged-in agent (created on first use)."""
        if self.auth.get_agent(username) is None:
            self.auth.add_agent(username, PASSWORD, username.title())
        client = await self.client()
        response = await client.post(
            "/agent/api/login", json={"username": username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return Agent(username, client, response.json()["csrf_token"])

    async def escalate(self, conversation: str = "web:abc", trigger: Trigger = ASKED) -> int:
        await self.store.append_user(conversation, "where is my order SO-100123")
        await self.store.append_bot(conversation, [OutgoingMessage(text="Let me check.")])
        await self.store.append_user(conversation, "I want to talk to a person")
        handoff = await self.queue.escalate(
            conversation, "web", trigger, slots={"order_number": "SO-100123"}
        )
        return handoff.id


@dataclass
class Agent:
    username: str
    http: httpx.AsyncClient
    csrf: str

    async def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.http.post(
            "/agent/api" + path, json=body or {}, headers={"X-CSRF-Token": self.csrf}
        )

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get("/agent/api" + path)

    async def delete(self, path: str) -> httpx.Response:
        return await self.http.delete("/agent/api" + path, headers={"X-CSRF-Token": self.csrf})


@pytest.fixture
async def console() -> AsyncIterator[Console]:
    clock = Clock()
    store = GatewayStore(":memory:")
    auth = AgentAuth(store, AgentSettings(session_idle_seconds=1800), clock=clock)
    customer = Customer()
    queue = HandoffQueue(store, agents_online=auth.agents_online)
    queue.delivery.register("web", customer)
    canned = CannedReplies(store)
    canned.replace_defaults(load_defaults(CANNED_FILE))
    app = Starlette(routes=AgentConsole(auth, queue, canned, heartbeat=0.05).routes())
    built = Console(app, store, auth, queue, customer, clock, [])
    yield built
    for client in built.clients:
        await client.aclose()


API_ROUTES = [
    ("GET", "/agent/api/me"),
    ("GET", "/agent/api/events"),
    ("GET", "/agent/api/handoffs"),
    ("GET", "/agent/api/handoffs/1"),
    ("POST", "/agent/api/handoffs/1/claim"),
    ("POST", "/agent/api/handoffs/1/assign"),
    ("GET", "/agent/api/agents"),
    ("POST", "/agent/api/handoffs/1/reply"),
    ("POST", "/agent/api/handoffs/1/resolve"),
    ("GET", "/agent/api/audit"),
    ("GET", "/agent/api/canned"),
    ("POST", "/agent/api/canned"),
    ("DELETE", "/agent/api/canned/1"),
]


@pytest.mark.parametrize(("method", "path"), API_ROUTES, ids=[f"{m} {p}" for m, p in API_ROUTES])
async def test_every_api_route_answers_401_without_a_session(
    console: Console, method: str, path: str
) -> None:
    client = await console.client()
    client.cookies.set(SESSION_COOKIE, "forged-or-expired-token", domain="gw.test")

    response = await client.request(method, path, json={"text": "hi"})

    assert response.status_code == 401
    assert response.json() == {"error": "log in first: no valid agent session"}


async def test_login_sets_an_http_only_same_site_strict_session_cookie(console: Console) -> None:
    console.auth.add_agent("alice", PASSWORD)
    client = await console.client()

    response = await client.post("/agent/api/login", json={"username": "alice",
                                                           "password": PASSWORD})  # fmt: skip

    assert response.status_code == 200
    assert response.json()["username"] == "alice" and response.json()["csrf_token"]
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/agent" in cookie
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
    me = (await client.get("/agent/api/me")).json()
    assert me["username"] == "alice"
    # The login answers what /me does: the page shows the right panels without a reload.
    assert {k: v for k, v in response.json().items() if k not in ("expires_at", "csrf_token")} == {
        k: v for k, v in me.items() if k not in ("expires_at", "csrf_token")
    }
    assert "roles" in me and "ask" in me

    secure = await console.client(base_url="https://gw.test")
    response = await secure.post("/agent/api/login", json={"username": "alice",
                                                           "password": PASSWORD})  # fmt: skip
    assert "Secure" in response.headers["set-cookie"]


async def test_wrong_password_is_401_and_repeated_failures_get_429(console: Console) -> None:
    console.auth.add_agent("alice", PASSWORD)
    client = await console.client()

    for _ in range(5):
        response = await client.post(
            "/agent/api/login", json={"username": "alice", "password": "not it at all"}
        )
        assert response.status_code == 401
        assert response.json() == {"error": "wrong username or password"}
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    response = await client.post("/agent/api/login", json={"username": "alice",
                                                           "password": PASSWORD})  # fmt: skip

    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 900
    assert "too many failed logins" in response.json()["error"]


async def test_a_login_over_the_hashing_cap_is_503_at_once(console: Console) -> None:
    console.auth.add_agent("alice", PASSWORD)
    client = await console.client()
    held = 0
    while console.auth._hashing.acquire(blocking=False):  # the cap's worth of checks running
        held += 1
    try:
        response = await client.post(
            "/agent/api/login", json={"username": "alice", "password": PASSWORD}
        )
    finally:
        for _ in range(held):
            console.auth._hashing.release()

    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert response.json() == {"error": "the login service is busy, retry in a moment"}
    again = await client.post("/agent/api/login", json={"username": "alice", "password": PASSWORD})
    assert again.status_code == 200


@pytest.mark.parametrize(
    "body", [b"not json", b'{"username": "alice"}', b'{"username": 1, "password": 2}'],
    ids=["not-json", "no-password", "not-strings"],
)  # fmt: skip
async def test_malformed_login_is_400_with_the_reason(console: Console, body: bytes) -> None:
    client = await console.client()

    response = await client.post("/agent/api/login", content=body)

    assert response.status_code == 400
    assert "must be" in response.json()["error"]


async def test_writes_need_the_csrf_header_and_a_same_site_origin(console: Console) -> None:
    alice = await console.agent("alice")
    handoff_id = await console.escalate()

    no_header = await alice.http.post(f"/agent/api/handoffs/{handoff_id}/claim")
    wrong = await alice.http.post(
        f"/agent/api/handoffs/{handoff_id}/claim", headers={"X-CSRF-Token": "guess"}
    )
    cross_site = await alice.http.post(
        f"/agent/api/handoffs/{handoff_id}/claim",
        headers={"X-CSRF-Token": alice.csrf, "Origin": "https://evil.example"},
    )
    assert [r.status_code for r in (no_header, wrong, cross_site)] == [403, 403, 403]
    assert "X-CSRF-Token" in no_header.json()["error"]
    assert (await console.queue.get(handoff_id)).status == "waiting"  # type: ignore[union-attr]

    same_site = await alice.http.post(
        f"/agent/api/handoffs/{handoff_id}/claim",
        headers={"X-CSRF-Token": alice.csrf, "Origin": "http://gw.test"},
    )
    assert same_site.status_code == 200


async def test_cross_site_login_is_refused(console: Console) -> None:
    console.auth.add_agent("alice", PASSWORD)
    client = await console.client()

    response = await client.post(
        "/agent/api/login",
        json={"username": "alice", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )

    assert response.status_code == 403 and "set-cookie" not in response.headers


async def test_logout_ends_the_session(console: Console) -> None:
    alice = await console.agent("alice")

    response = await alice.post("/logout")

    assert response.status_code == 200
    assert (await alice.get("/me")).status_code == 401


async def test_queue_lists_open_handoffs_with_trigger_channel_and_priority(
    console: Console,
) -> None:
    alice = await console.agent("alice")
    first = await console.escalate("web:first", ASKED)
    urgent = (await console.queue.escalate("telegram:42", "telegram", ANGRY, priority=5)).id

    response = await alice.get("/handoffs")

    assert response.status_code == 200
    handoffs = response.json()["handoffs"]
    assert [h["id"] for h in handoffs] == [urgent, first]  # higher priority first
    top = handoffs[0]
    assert top["channel"] == "telegram" and top["priority"] == 5 and top["status"] == "waiting"
    assert top["trigger"] == {"rule": "frustration", "score": 0.91, "detail": ANGRY.detail}
    assert isinstance(top["created_at"], float)
    bad = await alice.get("/handoffs?status=open")
    assert bad.status_code == 400 and "status must be" in bad.json()["error"]


async def test_detail_has_the_transcript_slots_trigger_and_summary(console: Console) -> None:
    alice = await console.agent("alice")
    handoff_id = await console.escalate()

    response = await alice.get(f"/handoffs/{handoff_id}")

    assert response.status_code == 200
    data = response.json()
    assert data["handoff"]["slots"] == {"unverified_order_number": "SO-100123"}
    assert data["handoff"]["context"] == [
        {"label": "order", "value": "SO-100123", "note": "NOT verified: do not disclose",
         "status": "unverified"},
    ]  # fmt: skip
    assert data["handoff"]["trigger"]["rule"] == "user_request" and data["handoff"]["summary"]
    assert [(e["role"], e["text"]) for e in data["transcript"]][:3] == [
        ("user", "where is my order SO-100123"),
        ("bot", "Let me check."),
        ("user", "I want to talk to a person"),
    ]
    missing = await alice.get("/handoffs/999")
    assert missing.status_code == 404 and "999" in missing.json()["error"]


async def test_two_agents_claiming_at_once_exactly_one_wins_and_the_other_gets_409(
    console: Console,
) -> None:
    alice, bob = await console.agent("alice"), await console.agent("bob")
    for index in range(5):
        handoff_id = await console.escalate(f"web:race{index}")

        responses = await asyncio.gather(
            alice.post(f"/handoffs/{handoff_id}/claim"), bob.post(f"/handoffs/{handoff_id}/claim")
        )

        codes = sorted(r.status_code for r in responses)
        assert codes == [200, 409], [r.text for r in responses]
        winner = next(r for r in responses if r.status_code == 200).json()["handoff"]["agent"]
        loser = next(r for r in responses if r.status_code == 409)
        assert loser.json() == {"error": f"{winner} already claimed handoff {handoff_id}"}
        handoff = await console.queue.get(handoff_id)
        assert handoff is not None and handoff.agent == winner


async def test_claiming_again_ones_own_handoff_is_fine(console: Console) -> None:
    alice = await console.agent("alice")
    handoff_id = await console.escalate()

    assert (await alice.post(f"/handoffs/{handoff_id}/claim")).status_code == 200
    assert (await alice.post(f"/handoffs/{handoff_id}/claim")).status_code == 200


async def test_reply_reaches_the_customer_and_the_transcript(console: Console) -> None:
    alice, bob = await console.agent("alice"), await console.agent("bob")
    handoff_id = await console.escalate("web:abc")

    unclaimed = await alice.post(f"/handoffs/{handoff_id}/reply", {"text": "Hello"})
    assert unclaimed.status_code == 409
    assert unclaimed.json() == {"error": f"claim handoff {handoff_id} before you reply"}
    await alice.post(f"/handoffs/{handoff_id}/claim")

    text = "  Hi, Alice here. I'm looking at SO-100123 now.  "
    response = await alice.post(f"/handoffs/{handoff_id}/reply", {"text": text})

    assert response.status_code == 200
    assert console.customer.texts("web:abc")[-1] == "Hi, Alice here. I'm looking at SO-100123 now."
    transcript = (await alice.get(f"/handoffs/{handoff_id}")).json()["transcript"]
    assert transcript[-1]["role"] == "agent" and transcript[-1]["agent"] == "alice"
    not_yours = await bob.post(f"/handoffs/{handoff_id}/reply", {"text": "me too"})
    assert not_yours.status_code == 409
    assert not_yours.json() == {"error": f"alice already claimed handoff {handoff_id}"}
    assert "me too" not in console.customer.texts("web:abc")


@pytest.mark.parametrize(
    ("body", "error"),
    [({"text": "   "}, "text must not be empty"), ({"text": 5}, "text must be a string"),
     ({"text": "x" * 2001}, "longer than 2000 characters"), ({}, "text must be a string")],
    ids=["blank", "number", "too-long", "missing"],
)  # fmt: skip
async def test_bad_replies_are_400_and_not_sent(
    console: Console, body: dict[str, Any], error: str
) -> None:
    alice = await console.agent("alice")
    handoff_id = await console.escalate("web:abc")
    await alice.post(f"/handoffs/{handoff_id}/claim")
    before = len(console.customer.received)

    response = await alice.post(f"/handoffs/{handoff_id}/reply", body)

    assert response.status_code == 400 and error in response.json()["error"]
    assert len(console.customer.received) == before


async def test_resolve_hands_the_conversation_back_with_the_note(console: Console) -> None:
    alice, bob = await console.agent("alice"), await console.agent("bob")
    handoff_id = await console.escalate("web:abc")
    await alice.post(f"/handoffs/{handoff_id}/claim")

    assert (await bob.post(f"/handoffs/{handoff_id}/resolve")).status_code == 409
    response = await alice.post(f"/handoffs/{handoff_id}/resolve", {"note": "parcel re-sent"})

    assert response.status_code == 200
    handoff = await console.queue.get(handoff_id)
    assert handoff is not None and handoff.status == "resolved"
    assert handoff.note == "parcel re-sent" and handoff.resolved_by == "alice"
    assert (await console.queue.ownership("web:abc")).owner == "bot"
    assert "handed you back to the assistant" in console.customer.texts("web:abc")[-1]
    again = await alice.post(f"/handoffs/{handoff_id}/resolve")
    assert again.status_code == 409 and "already resolved" in again.json()["error"]
    assert (await alice.get("/handoffs")).json()["handoffs"] == []


async def test_canned_replies_are_the_file_defaults_plus_agents_own(console: Console) -> None:
    alice = await console.agent("alice")

    defaults = (await alice.get("/canned")).json()["replies"]
    assert [r["title"] for r in defaults][:3] == ["Greeting", "Checking", "Need order number"]
    assert all(r["source"] == "file" for r in defaults)
    added = await alice.post(
        "/canned", {"title": "Tracking", "text": "Your tracking link: {agent}"}
    )
    assert added.status_code == 201
    reply_id = added.json()["reply"]["id"]
    replies = (await alice.get("/canned")).json()["replies"]
    assert replies[-1] == {"id": reply_id, "title": "Tracking", "source": "agent",
                           "text": "Your tracking link: {agent}",
                           "created_by": "alice"}  # fmt: skip

    assert (await alice.delete(f"/canned/{defaults[0]['id']}")).status_code == 403
    assert (await alice.delete("/canned/99999")).status_code == 404
    assert (await alice.delete(f"/canned/{reply_id}")).status_code == 200
    assert len((await alice.get("/canned")).json()["replies"]) == len(defaults)
    empty = await alice.post("/canned", {"title": "", "text": "x"})
    assert empty.status_code == 400 and empty.json() == {"error": "title must not be empty"}


async def test_only_the_agent_who_added_a_canned_reply_can_delete_it(console: Console) -> None:
    alice, bob = await console.agent("alice"), await console.agent("bob")
    defaults = (await bob.get("/canned")).json()["replies"]
    added = await alice.post("/canned", {"title": "Mine", "text": "Alice's own words"})
    reply_id = added.json()["reply"]["id"]

    by_bob = await bob.delete(f"/canned/{reply_id}")
    company = await bob.delete(f"/canned/{defaults[0]['id']}")

    assert by_bob.status_code == 403
    assert by_bob.json() == {"error": "only the agent who added a canned reply can delete it"}
    assert company.status_code == 403 and "company canned replies" in company.json()["error"]
    titles = [r["title"] for r in (await alice.get("/canned")).json()["replies"]]
    assert "Mine" in titles and defaults[0]["title"] in titles
    assert (await alice.delete(f"/canned/{reply_id}")).status_code == 200


async def test_two_agents_resolving_at_once_close_it_once_and_the_other_gets_409(
    console: Console,
) -> None:
    alice, bob = await console.agent("alice"), await console.agent("bob")
    for index in range(5):
        handoff_id = await console.escalate(f"web:resolve{index}")

        responses = await asyncio.gather(
            alice.post(f"/handoffs/{handoff_id}/resolve", {"note": "alice"}),
            bob.post(f"/handoffs/{handoff_id}/resolve", {"note": "bob"}),
        )

        assert sorted(r.status_code for r in responses) == [200, 409]
        winner = "alice" if responses[0].status_code == 200 else "bob"
        handoff = await console.queue.get(handoff_id)
        assert handoff is not None and (handoff.resolved_by, handoff.note) == (winner, winner)
        told = [t for t in console.customer.texts(f"web:resolve{index}") if "handed you back" in t]
        assert len(told) == 1


async def test_a_resolve_racing_a_claim_never_closes_the_other_agents_handoff(
    console: Console,
) -> None:
    alice, bob = await console.agent("alice"), await console.agent("bob")
    for index in range(8):
        handoff_id = await console.escalate(f"web:claimrace{index}")

        claim, resolve = await asyncio.gather(
            bob.post(f"/handoffs/{handoff_id}/claim"),
            alice.post(f"/handoffs/{handoff_id}/resolve"),
        )

        handoff = await console.queue.get(handoff_id)
        assert handoff is not None
        if claim.status_code == 200:
            assert resolve.status_code == 409
            assert (handoff.status, handoff.agent) == ("assigned", "bob")
        else:
            assert (claim.status_code, resolve.status_code) == (409, 200)
            assert (handoff.status, handoff.resolved_by) == ("resolved", "alice")


def test_the_default_canned_replies_file_is_valid() -> None:
    pairs = load_defaults(CANNED_FILE)

    assert len(pairs) >= 4 and all(title and text for title, text in pairs)


async def test_page_is_served_with_a_strict_csp_and_has_no_inline_code(console: Console) -> None:
    client = await console.client()

    response = await client.get("/agent")

    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
    html = response.text
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts and all('src="/static/' in attrs and not body.strip()
                           for attrs, body in scripts)  # fmt: skip
    assert "<style" not in html and " style=" not in html and not re.search(r" on[a-z]+=", html)
    for asset in ("agent.js", "agent.css"):
        assert f"/static/{asset}" in html and (STATIC_DIR / asset).is_file()
    # The script builds every text with textContent, never innerHTML.
    assert "innerHTML" not in (STATIC_DIR / "agent.js").read_text()


# --- the live stream ---------------------------------------------------------------------


OpenStream = Callable[[str], Awaitable[EventStream]]


@pytest.fixture
async def open_stream(console: Console) -> AsyncIterator[OpenStream]:
    """Opens GET /agent/api/events for a session token; closes them all after the test."""
    streams: list[EventStream] = []

    async def open_(token: str) -> EventStream:
        stream = await open_event_stream(console.app, token)
        streams.append(stream)
        return stream

    yield open_
    for stream in streams:
        await stream.close()


def token_of(agent: Agent) -> str:
    token = agent.http.cookies.get(SESSION_COOKIE)
    assert token
    return token


async def test_stream_sends_a_snapshot_then_each_queue_event_live(
    console: Console, open_stream: OpenStream
) -> None:
    alice = await console.agent("alice")
    earlier = await console.escalate("web:earlier")
    stream = await open_stream(token_of(alice))
    assert stream.status == 200

    name, data = await stream.next()
    assert name == "snapshot" and [h["id"] for h in data["handoffs"]] == [earlier]

    created = await console.escalate("web:new", ANGRY)
    name, data = await stream.next()
    assert name == "queue" and data["type"] == "created"
    assert data["handoff"]["id"] == created and data["handoff"]["trigger"]["score"] == 0.91

    await alice.post(f"/handoffs/{created}/claim")
    name, data = await stream.next()
    assert data["type"] == "claimed" and data["handoff"]["agent"] == "alice"


async def test_an_open_console_counts_its_agent_as_online(
    console: Console, open_stream: OpenStream
) -> None:
    alice = await console.agent("alice")
    stream = await open_stream(token_of(alice))
    await stream.next()
    console.clock.now += 10 * 60  # the session was last used ten minutes ago

    assert console.auth.agents_online() == 1
    await stream.close()
    assert console.auth.agents_online() == 0


async def test_stream_tells_the_page_when_the_session_expires(
    console: Console, open_stream: OpenStream
) -> None:
    alice = await console.agent("alice")
    stream = await open_stream(token_of(alice))
    await stream.next()

    console.clock.now += 1801  # idle longer than the session allows; the stream does not count
    name, data = await stream.next()

    assert name == "expired" and "expired" in data["reason"]
    with pytest.raises(EOFError):
        await stream.next()


async def test_a_busy_stream_ends_as_soon_as_its_session_expires(
    console: Console, open_stream: OpenStream
) -> None:
    alice = await console.agent("alice")
    stream = await open_stream(token_of(alice))
    await stream.next()
    await console.escalate("web:busy0")
    assert (await stream.next())[1]["type"] == "created"

    console.clock.now += 1801  # expired, while the queue keeps producing events
    for index in range(1, 4):
        await console.escalate(f"web:busy{index}")

    name, data = await stream.next()
    assert name == "expired" and "expired" in data["reason"]
    with pytest.raises(EOFError):
        await stream.next()


async def test_logging_out_ends_the_open_stream(console: Console, open_stream: OpenStream) -> None:
    alice = await console.agent("alice")
    stream = await open_stream(token_of(alice))
    await stream.next()

    await alice.post("/logout")
    await console.escalate("web:after-logout")

    name, _ = await stream.next()
    assert name == "expired"
    with pytest.raises(EOFError):
        await stream.next()


# --- through the gateway ------------------------------------------------------------------


async def test_gateway_serves_the_console_on_the_real_turn_path(
    fake_rasa: FakeRasa,
) -> None:
    app = create_app(SETTINGS, db_check=lambda: True, rasa_client=fake_rasa,
                     transport=actions_transport())  # fmt: skip
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw.test") as gw,
    ):
        page = await gw.get("/agent")
        assert page.status_code == 200 and "agent.js" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert (await gw.get("/static/agent.js")).status_code == 200
        assert (await gw.get("/agent/api/handoffs")).status_code == 401

        app.state.agents.auth.add_agent("alice", PASSWORD)
        login = await gw.post("/agent/api/login", json={"username": "alice", "password": PASSWORD})
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
        # The queue's "is anybody there" is the console's presence.
        assert app.state.handoff_queue.agents_online() == 1

        asked = await gw.post("/api/messages", json={"sender_id": "rest-1",
                                                     "text": "/request_human"})  # fmt: skip
        assert asked.status_code == 200
        handoffs = (await gw.get("/agent/api/handoffs")).json()["handoffs"]
        assert [(h["conversation_id"], h["trigger"]["rule"]) for h in handoffs] == [
            ("rest:local:rest-1", "user_request")
        ]
        handoff_id = handoffs[0]["id"]
        assert (await gw.post(f"/agent/api/handoffs/{handoff_id}/claim", headers=csrf)).is_success
        reply = await gw.post(f"/agent/api/handoffs/{handoff_id}/reply", headers=csrf,
                              json={"text": "Alice here, how can I help?"})  # fmt: skip
        assert reply.status_code == 200
        pending = (await gw.get("/api/messages/rest-1/pending")).json()["messages"]
        assert "Alice here, how can I help?" in [m["text"] for m in pending]

        await gw.post("/api/messages", json={"sender_id": "rest-1", "text": "thanks, one more"})
        assert fake_rasa.received == []  # a person owns the conversation: Rasa hears nothing
        resolved = await gw.post(f"/agent/api/handoffs/{handoff_id}/resolve", headers=csrf,
                                 json={"note": "answered"})  # fmt: skip
        assert resolved.status_code == 200
        await gw.post("/api/messages", json={"sender_id": "rest-1", "text": "where is my order"})
        assert [m.text for m in fake_rasa.received] == ["where is my order"]


async def test_open_streams_end_when_the_server_begins_to_stop(
    console: Console, open_stream: OpenStream
) -> None:
    alice = await console.agent("alice")
    stream = await open_stream(token_of(alice))
    await stream.next()

    try:
        stop_streams()  # what `python -m connectors` calls on SIGTERM / Ctrl-C
        with pytest.raises(EOFError):
            await stream.next(timeout=3)
    finally:
        console_module._STOPPING.clear()


async def test_a_waiting_handoff_can_be_assigned_to_a_colleague(console: Console) -> None:
    console.queue.public_name = console.auth.public_name
    alice, bob = await console.agent("alice"), await console.agent("bob")
    handoff_id = await console.escalate()

    listed = await alice.get("/agents")
    assert {"username": "bob", "display_name": "Bob"} in listed.json()["agents"]
    response = await alice.post(f"/handoffs/{handoff_id}/assign", {"agent": "bob"})

    assert response.status_code == 200
    assert (response.json()["handoff"]["status"], response.json()["handoff"]["agent"]) == (
        "assigned",
        "bob",
    )
    assert console.customer.texts("web:abc")[-1].startswith("Bob from our team has joined")
    assert (await bob.post(f"/handoffs/{handoff_id}/reply", {"text": "Bob here."})).is_success


async def test_only_the_holder_can_transfer_an_assigned_handoff(console: Console) -> None:
    alice, bob = await console.agent("alice"), await console.agent("bob")
    carol = await console.agent("carol")
    handoff_id = await console.escalate()
    await alice.post(f"/handoffs/{handoff_id}/claim")

    taken = await bob.post(f"/handoffs/{handoff_id}/assign", {"agent": "bob"})
    assert taken.status_code == 409 and "assigned to alice" in taken.json()["error"]
    moved = await alice.post(f"/handoffs/{handoff_id}/assign", {"agent": "carol"})
    assert moved.status_code == 200 and moved.json()["handoff"]["agent"] == "carol"
    refused = await alice.post(f"/handoffs/{handoff_id}/reply", {"text": "still me?"})
    assert refused.status_code == 409
    assert (await carol.post(f"/handoffs/{handoff_id}/reply", {"text": "Carol here."})).is_success


@pytest.mark.parametrize(
    ("body", "reason"),
    [({"agent": "nobody"}, "no agent is called 'nobody'"), ({"agent": 5}, "agent must be")],
    ids=["unknown-agent", "not-a-string"],
)
async def test_assigning_to_someone_who_is_not_an_agent_is_400(
    console: Console, body: dict[str, Any], reason: str
) -> None:
    alice = await console.agent("alice")
    handoff_id = await console.escalate()
    response = await alice.post(f"/handoffs/{handoff_id}/assign", body)
    assert response.status_code == 400 and reason in response.json()["error"]
    assert (await console.queue.get(handoff_id)).status == "waiting"  # type: ignore[union-attr]


async def test_a_resolved_handoff_cannot_be_assigned(console: Console) -> None:
    alice = await console.agent("alice")
    await console.agent("bob")
    handoff_id = await console.escalate()
    await alice.post(f"/handoffs/{handoff_id}/claim")
    await alice.post(f"/handoffs/{handoff_id}/resolve", {"note": "done"})
    response = await alice.post(f"/handoffs/{handoff_id}/assign", {"agent": "bob"})
    assert response.status_code == 409 and "resolved" in response.json()["error"]


# --- the audit trail, for agents with the admin role ----------------------------------------


async def test_only_admins_read_the_audit_trail(
    console: Console, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from erp.audit import AuditEvent, audit_trail

    monkeypatch.setenv("AUDIT_DB", str(tmp_path / "audit.db"))
    audit_trail.cache_clear()
    try:
        for conversation in ("web:a", "web:b"):
            audit_trail().record(
                AuditEvent(
                    conversation,
                    "web",
                    "customer",
                    "7",
                    "writes.cancel_order",
                    "SO-100123",
                    "done",
                    4.2,
                )  # fmt: skip
            )
        agent = await console.agent("alice")
        assert (await agent.get("/me")).json()["roles"] == []
        refused = await agent.get("/audit?conversation=web:a")
        assert refused.status_code == 403

        console.auth.set_role("alice", "admin", granted=True)
        assert (await agent.get("/me")).json()["roles"] == ["admin"]
        shown = await agent.get("/audit?conversation=web:a")
        assert shown.status_code == 200
        events = shown.json()["events"]
        assert [(e["conversation"], e["operation"], e["outcome"]) for e in events] == [
            ("web:a", "writes.cancel_order", "done")
        ]
        assert (await agent.get("/audit?limit=lots")).status_code == 400
        assert (await agent.get("/audit?customer=" + "x" * 300)).status_code == 400

        console.auth.set_role("alice", "admin", granted=False)  # a revoke counts at once
        assert (await agent.get("/audit")).status_code == 403
    finally:
        audit_trail.cache_clear()
