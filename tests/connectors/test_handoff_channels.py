"""Agent replies reach the user on the channel they came from: the web widget live (or in its
history after a reconnect), Telegram, Slack (the DM or thread); failures wait and are retried."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import socketio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from benchmarks.fake_platforms import FakePlatforms, serve
from connectors.channels.telegram import SECRET_HEADER
from connectors.gateway import create_app
from connectors.handoff.hours import BusinessHours
from connectors.handoff.queue import HandoffQueue, Trigger
from connectors.messages import OutgoingMessage
from connectors.settings import SlackSettings, TelegramSettings
from i18n.texts import say as say_text
from tests.connectors.fakes import SETTINGS, FakeRasa, actions_transport

ALWAYS_OPEN = BusinessHours(days=frozenset(range(7)), opens=dt.time(0), closes=dt.time.max)
TELEGRAM_SECRET = "handoff-secret"
SLACK_SECRET = "slack-signing-secret"


def open_queue(app: Starlette) -> HandoffQueue:
    queue: HandoffQueue = app.state.handoff_queue
    queue.hours = ALWAYS_OPEN
    queue.agents_online = lambda: 1
    return queue


# Telegram.

Gateway = tuple[httpx.AsyncClient, Starlette]


@pytest.fixture
async def telegram_gateway(
    platforms: FakePlatforms, platforms_url: str, fake_rasa: FakeRasa
) -> AsyncIterator[Gateway]:
    settings = dataclasses.replace(
        SETTINGS,
        telegram=TelegramSettings(
            bot_token="1:T", webhook_secret=TELEGRAM_SECRET, api_url=platforms_url
        ),
    )
    app = create_app(
        settings, db_check=lambda: True, rasa_client=fake_rasa, transport=actions_transport()
    )
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw.test")
        )
        with anyio.fail_after(10):
            await app.state.telegram.ready.wait()
        open_queue(app)
        yield client, app


def telegram_text(text: str, chat: int = 4242, update_id: int = 1) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id, "date": 1700000000, "text": text,
            "chat": {"id": chat, "type": "private"},
            "from": {"id": chat, "is_bot": False, "first_name": "Jo"},
        },
    }  # fmt: skip


async def post_telegram(client: httpx.AsyncClient, update: dict[str, Any]) -> None:
    response = await client.post(
        "/telegram/webhook", json=update, headers={SECRET_HEADER: TELEGRAM_SECRET}
    )
    assert response.status_code == 200


def telegram_texts(platforms: FakePlatforms) -> list[str]:
    return [c.params["text"] for c in platforms.of("sendMessage")]


async def test_telegram_human_command_escalates_without_rasa_and_the_agent_reply_arrives(
    telegram_gateway: Gateway, platforms: FakePlatforms, fake_rasa: FakeRasa
) -> None:
    client, app = telegram_gateway
    queue = open_queue(app)

    await post_telegram(client, telegram_text("/human"))
    handoff = await queue.open_for("telegram:4242")
    assert handoff is not None
    await queue.agent_reply(handoff.id, "alice", "Hi Jo, Alice here. Which order is it?")

    assert fake_rasa.received == []
    assert (handoff.trigger.rule, handoff.trigger.score) == ("user_request", 1.0)
    assert telegram_texts(platforms) == [
        say_text("notice.escalated_open", "en"),
        "alice from our team has joined the conversation and will reply here.",
        "Hi Jo, Alice here. Which order is it?",
    ]
    assert {c.params["chat_id"] for c in platforms.of("sendMessage")} == {"4242"}


async def test_a_telegram_reply_telegram_refused_waits_and_is_retried(
    telegram_gateway: Gateway, platforms: FakePlatforms
) -> None:
    client, app = telegram_gateway
    queue = open_queue(app)
    await post_telegram(client, telegram_text("/human"))
    handoff = await queue.open_for("telegram:4242")
    assert handoff is not None and await queue.claim(handoff.id, "alice")
    platforms.fail("sendMessage", status=400, times=1)  # refused at once, no in-call retry

    await queue.agent_reply(handoff.id, "alice", "Your refund is approved.")
    waiting = await queue.delivery.pending("telegram:4242")
    delivered = await queue.delivery.flush(force=True)

    assert waiting == 1 and delivered == 1
    assert telegram_texts(platforms)[-1] == "Your refund is approved."
    assert await queue.delivery.pending() == 0


async def test_messages_after_a_failed_one_wait_so_the_order_is_kept(
    telegram_gateway: Gateway, platforms: FakePlatforms
) -> None:
    client, app = telegram_gateway
    queue = open_queue(app)
    await post_telegram(client, telegram_text("/human"))
    handoff = await queue.open_for("telegram:4242")
    assert handoff is not None and await queue.claim(handoff.id, "alice")
    platforms.fail("sendMessage", status=400, times=1)

    await queue.agent_reply(handoff.id, "alice", "first")
    platforms.fail("sendMessage", status=400, times=1)
    await queue.agent_reply(handoff.id, "alice", "second")  # retries "first": refused again
    assert await queue.delivery.pending("telegram:4242") == 2
    await queue.delivery.flush(force=True)

    assert telegram_texts(platforms)[-2:] == ["first", "second"]


# Slack.


def slack_signed(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    digest = hmac.new(
        SLACK_SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256
    ).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


@pytest.fixture
async def slack_gateway(
    platforms: FakePlatforms, platforms_url: str, fake_rasa: FakeRasa
) -> AsyncIterator[Gateway]:
    slack = SlackSettings(
        bot_token="xoxb-test", signing_secret=SLACK_SECRET, api_url=platforms_url + "/slack-api/"
    )
    app = create_app(
        dataclasses.replace(SETTINGS, slack=slack),
        db_check=lambda: True, rasa_client=fake_rasa, transport=actions_transport(),
    )  # fmt: skip
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw.test")
        )
        open_queue(app)
        yield client, app


async def slack_message(client: httpx.AsyncClient, text: str, **event: Any) -> None:
    inner = {"type": "message", "channel_type": "im", "channel": "D0001", "user": "U0CUST01",
             "text": text, "ts": f"{time.time():.6f}", **event}  # fmt: skip
    payload = {"type": "event_callback", "team_id": "T0001", "event": inner,
               "event_id": f"Ev{time.monotonic_ns()}"}  # fmt: skip
    body = json.dumps(payload).encode()
    response = await client.post(
        "/slack/events",
        content=body,
        headers={"Content-Type": "application/json", **slack_signed(body)},
    )
    assert response.status_code == 200


async def test_slack_agent_reply_goes_to_the_thread_the_user_wrote_in(
    slack_gateway: Gateway, platforms: FakePlatforms, fake_rasa: FakeRasa
) -> None:
    client, app = slack_gateway
    queue = open_queue(app)
    fake_rasa.replies = [
        OutgoingMessage(text="Getting a colleague.", custom={"handoff": {"rule": "user_request"}})
    ]

    await slack_message(client, "can I talk to a person", thread_ts="1700000000.000100")
    await app.state.slack.drain()
    handoff = await queue.open_for("slack:T0001:U0CUST01")
    assert handoff is not None
    await queue.agent_reply(handoff.id, "alice", "Hello from Alice")

    posts = platforms.of("chat.postMessage")
    assert [p.params["text"] for p in posts][-1] == "Hello from Alice"
    assert {(p.params["channel"], p.params["thread_ts"]) for p in posts} == {
        ("D0001", "1700000000.000100")
    }


async def test_slack_user_who_only_used_the_command_gets_the_reply_in_a_dm(
    slack_gateway: Gateway, platforms: FakePlatforms
) -> None:
    _, app = slack_gateway
    queue = open_queue(app)
    handoff = await queue.escalate(
        "slack:T0001:U0CMD", "slack", Trigger("user_request", 1.0, "asked")
    )
    await queue.agent_reply(handoff.id, "alice", "Hi, Alice here")

    assert platforms.of("chat.postMessage")[-1].params["channel"] == "U0CMD"


# Web chat, over real Socket.IO.


def agent_routes(app: Starlette) -> Starlette:
    """The gateway plus a test-only endpoint that runs queue calls on the server's loop."""

    async def act(request: Request) -> JSONResponse:
        body = await request.json()
        queue = open_queue(app)
        handoff = await queue.open_for(body["conversation_id"])
        assert handoff is not None
        if body["action"] == "reply":
            await queue.agent_reply(handoff.id, "alice", body["text"])
        return JSONResponse({"pending": await queue.delivery.pending(body["conversation_id"])})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with app.router.lifespan_context(app):
            open_queue(app)
            yield

    return Starlette(
        routes=[Route("/test/agent", act, methods=["POST"]), Mount("/", app=app)],
        lifespan=lifespan,
    )


@pytest.fixture
def web_url(fake_rasa: FakeRasa, tmp_path: Path) -> Iterator[str]:
    settings = dataclasses.replace(SETTINGS, gateway_db=str(tmp_path / "gateway.db"))
    app = create_app(
        settings, db_check=lambda: True, rasa_client=fake_rasa, transport=actions_transport()
    )
    with serve(agent_routes(app), lifespan=True) as url:
        yield url


@contextmanager
def widget(url: str, token: str | None = None) -> Iterator[tuple[socketio.SimpleClient, str]]:
    """A chat window: a new session, or the one ``token`` (the server issued it) opens."""
    client = socketio.SimpleClient()
    client.connect(url, transports=["websocket"])
    client.emit("session_request", {"session_id": token})
    confirm = client.receive(timeout=5)
    assert confirm[0] == "session_confirm"
    try:
        yield client, confirm[1]
    finally:
        client.disconnect()


def until(client: socketio.SimpleClient, event: str) -> list[Any]:
    while True:
        received = client.receive(timeout=5)
        if received[0] == event:
            return received


def bot_texts(client: socketio.SimpleClient) -> list[str]:
    texts = []
    while True:
        received = client.receive(timeout=5)
        if received == ["bot_typing", {"typing": False}]:
            return texts
        if received[0] == "bot_uttered":
            texts.append(received[1]["text"])


def test_web_agent_reply_is_shown_live_and_after_a_reload(web_url: str) -> None:
    with widget(web_url) as (client, token):
        # The conversation key is the token's first part.
        conversation = "web:" + token.split(".")[0]
        until(client, "session_history")
        client.emit("user_uttered", {"message": "/request_human"})
        escalated = bot_texts(client)
        httpx.post(f"{web_url}/test/agent", json={
            "conversation_id": conversation, "action": "reply", "text": "Hi, Alice here",
        })  # fmt: skip
        joined = until(client, "bot_uttered")
        live = until(client, "bot_uttered")

    assert escalated == [say_text("notice.escalated_open", "en")]
    assert joined[1]["text"].startswith("alice from our team has joined")
    assert live[1]["text"] == "Hi, Alice here" and live[1]["metadata"]["agent"] == "alice"

    # The tab is closed: the next reply waits, then comes with the history on reload.
    response = httpx.post(f"{web_url}/test/agent", json={
        "conversation_id": conversation, "action": "reply", "text": "Are you still there?",
    })  # fmt: skip
    assert response.json() == {"pending": 1}
    with widget(web_url, token) as (client, _):
        history = until(client, "session_history")[1]["messages"]
        after = httpx.post(f"{web_url}/test/agent", json={
            "conversation_id": conversation, "action": "status",
        }).json()  # fmt: skip

    assert [(m["role"], m["text"]) for m in history][-1] == ("agent", "Are you still there?")
    assert history[-1]["agent"] == "alice"
    assert after == {"pending": 0}
