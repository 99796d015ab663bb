"""Nothing is lost when the gateway restarts, or Rasa and the action server are down, while a
conversation is waiting for or talking to a person; an old database is migrated in place."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import anyio
import httpx
import pytest
from starlette.applications import Starlette

from benchmarks.fake_platforms import FakePlatforms
from connectors.database import IntegrityError
from connectors.gateway import create_app
from connectors.handoff.hours import BusinessHours
from connectors.handoff.queue import HandoffQueue, Trigger
from connectors.settings import GatewaySettings, TelegramSettings
from connectors.store import GatewayStore
from i18n.texts import say as say_text
from tests.connectors.fakes import SETTINGS, FakeRasa, actions_transport

ALWAYS_OPEN = BusinessHours(days=frozenset(range(7)), opens=dt.time(0), closes=dt.time.max)
TELEGRAM_SECRET = "reliability-secret"
PICKED_UP = Trigger("agent_command", None, "picked up by an agent")


@asynccontextmanager
async def gateway(
    settings: GatewaySettings, rasa: FakeRasa, *, actions_status: int = 200
) -> AsyncIterator[tuple[httpx.AsyncClient, Starlette, HandoffQueue]]:
    """One gateway process: its lifespan, an HTTP client, and its queue."""
    app = create_app(
        settings, db_check=lambda: True, rasa_client=rasa,
        transport=actions_transport(actions_status),
    )  # fmt: skip
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw.test")
        )
        queue: HandoffQueue = app.state.handoff_queue
        queue.hours = ALWAYS_OPEN
        queue.agents_online = lambda: 1
        yield client, app, queue


async def say(client: httpx.AsyncClient, text: str, sender: str = "rest-7") -> list[str | None]:
    response = await client.post("/api/messages", json={"sender_id": sender, "text": text})
    assert response.status_code == 200, response.text
    return [m["text"] for m in response.json()["messages"]]


@pytest.fixture
def settings(tmp_path: Path) -> GatewaySettings:
    return dataclasses.replace(SETTINGS, gateway_db=str(tmp_path / "gateway.db"))


async def test_restart_while_waiting_keeps_the_handoff_and_every_message_for_the_agent(
    settings: GatewaySettings,
) -> None:
    rasa = FakeRasa()
    async with gateway(settings, rasa) as (client, _, _):
        await say(client, "/request_human")
        await say(client, "my invoice INV-200341 is wrong")

    async with gateway(settings, rasa) as (client, _, queue):
        after = await say(client, "hello? I'm still waiting")
        handoff = await queue.open_for("rest:local:rest-7")
        assert handoff is not None and handoff.status == "waiting"
        events = queue.subscribe()
        assert await queue.claim(handoff.id, "alice")
        claimed = await events.get(timeout=2)

    assert rasa.received == []
    assert after == []  # acknowledged once already, before the restart
    assert [m["text"] for m in claimed["pending"]] == [
        "my invoice INV-200341 is wrong",
        "hello? I'm still waiting",
    ]


async def test_restart_while_assigned_delivers_the_agents_waiting_reply(
    settings: GatewaySettings,
) -> None:
    rasa = FakeRasa()
    async with gateway(settings, rasa) as (client, _, queue):
        await say(client, "/request_human")
        handoff = await queue.open_for("rest:local:rest-7")
        assert handoff is not None
        await queue.agent_reply(handoff.id, "alice", "I've found your order.")

    async with gateway(settings, rasa) as (client, _, queue):
        fetched = (await client.get("/api/messages/rest-7/pending")).json()["messages"]
        held = await say(client, "great, when does it arrive?")
        still = await queue.get(handoff.id)

    assert [m["text"] for m in fetched][-1] == "I've found your order."
    assert held == [] and rasa.received == []
    assert still is not None and (still.status, still.agent) == ("assigned", "alice")


async def test_a_telegram_reply_that_failed_before_a_restart_is_delivered_after_it(
    tmp_path: Path, platforms: FakePlatforms, platforms_url: str
) -> None:
    settings = dataclasses.replace(
        SETTINGS,
        gateway_db=str(tmp_path / "gateway.db"),
        telegram=TelegramSettings(
            bot_token="1:T", webhook_secret=TELEGRAM_SECRET, api_url=platforms_url
        ),
    )
    async with gateway(settings, FakeRasa()) as (_, app, queue):
        with anyio.fail_after(10):
            await app.state.telegram.ready.wait()
        handoff = await queue.escalate("telegram:77", "telegram", PICKED_UP, slots={})
        await queue.claim(handoff.id, "alice")
        platforms.fail("sendMessage", status=400, times=1)
        await queue.agent_reply(handoff.id, "alice", "Replacement shipped today.")
        assert await queue.delivery.pending("telegram:77") == 1

    async with gateway(settings, FakeRasa()) as (_, app, queue):
        with anyio.fail_after(10):
            await app.state.telegram.ready.wait()
            while await queue.delivery.pending("telegram:77"):
                await anyio.sleep(0.05)  # the retry loop of the new process

    texts = [c.params["text"] for c in platforms.of("sendMessage")]
    # Refused once by the first process (the fake records refused calls too), sent by the second.
    assert texts.count("Replacement shipped today.") == 2
    assert texts[-1] == "Replacement shipped today."


async def test_rasa_and_the_action_server_down_while_human_owned_lose_nothing(
    settings: GatewaySettings,
) -> None:
    rasa = FakeRasa()
    async with gateway(settings, rasa, actions_status=0) as (client, _, queue):
        await say(client, "/request_human")
        rasa.up = False
        events = queue.subscribe()
        replies = [await say(client, f"message {n}") for n in range(3)]
        seen = [await events.get(timeout=2) for _ in range(3)]
        health = await client.get("/healthz")

    assert health.status_code == 503  # the gateway says what is down ...
    assert replies == [
        [say_text("notice.waiting_ack", "en")],
        [],
        [],
    ]  # ... but the user is not affected
    assert [e["message"]["text"] for e in seen] == ["message 0", "message 1", "message 2"]


async def test_a_database_from_before_handoff_is_migrated_and_keeps_its_transcript(
    tmp_path: Path,
) -> None:
    path = tmp_path / "gateway.db"
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE transcript (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('user', 'bot')),
            body TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX transcript_by_conversation ON transcript (conversation_id, id);
        INSERT INTO transcript (conversation_id, role, body, created_at)
            VALUES ('web:a', 'user', '{"text": "hi"}', 1.0),
                   ('web:a', 'bot', '{"text": "hello", "buttons": [], "image": null}', 2.0);
        """
    )
    old.close()

    store = GatewayStore(path)
    queue = HandoffQueue(store)
    handoff = await queue.escalate("web:a", "web", PICKED_UP)
    await queue.agent_reply(handoff.id, "alice", "Hi, Alice here")
    history = await store.history("web:a")
    store.close()
    reopened = GatewayStore(path)  # opening a migrated database again changes nothing

    assert [(e["role"], e["text"]) for e in history] == [
        ("user", "hi"),
        ("bot", "hello"),
        ("system", "alice from our team has joined the conversation and will reply here."),
        ("agent", "Hi, Alice here"),
    ]
    assert len(await reopened.history("web:a")) == 4
    with pytest.raises(IntegrityError):
        reopened._execute(
            "INSERT INTO transcript (conversation_id, role, body, created_at) "
            "VALUES ('x', 'robot', '{}', 0)",
            (),
        )
