"""The web chat channel over real Socket.IO: Rasa's socketio protocol, durable history,
limits; and the widget and demo page the gateway serves."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio

from connectors.fake_platforms import serve
from connectors.gateway import create_app
from connectors.messages import Button, OutgoingMessage
from tests.connectors.fakes import SETTINGS, FakeRasa, actions_transport

SESSION = "0123456789abcdef0123456789abcdef"
HELP_BUTTON = Button("Where is my order?", "/order_status")
Running = Callable[..., AbstractContextManager[str]]


@pytest.fixture
def running(fake_rasa: FakeRasa, tmp_path: Path) -> Running:
    """Serve a gateway (lifespan and WebSockets on) over real HTTP; yields its URL."""

    @contextmanager
    def run(**overrides: Any) -> Iterator[str]:
        settings = dataclasses.replace(
            SETTINGS, gateway_db=str(tmp_path / "gateway.db"), **overrides
        )
        app = create_app(
            settings, db_check=lambda: True, rasa_client=fake_rasa, transport=actions_transport()
        )
        with serve(app, lifespan=True) as url:
            yield url

    return run


@contextmanager
def chat(url: str) -> Iterator[socketio.SimpleClient]:
    client = socketio.SimpleClient()
    client.connect(url, transports=["websocket"])
    try:
        yield client
    finally:
        client.disconnect()


def start_session(client: socketio.SimpleClient, session_id: Any = SESSION) -> tuple[str, list]:
    client.emit("session_request", {"session_id": session_id})
    confirm = client.receive(timeout=5)
    history = client.receive(timeout=5)
    assert confirm[0] == "session_confirm" and history[0] == "session_history"
    return confirm[1], history[1]["messages"]


def turn(client: socketio.SimpleClient, text: str, **extra: Any) -> list[list[Any]]:
    """Send one message; return every event up to the end of the bot's turn."""
    client.emit("user_uttered", {"message": text, "session_id": SESSION, **extra})
    events = []
    while True:
        event = client.receive(timeout=5)
        events.append(event)
        if event == ["bot_typing", {"typing": False}]:
            return events


def test_session_request_is_confirmed_with_the_same_id(running: Running) -> None:
    with running() as url, chat(url) as client:
        confirmed, history = start_session(client)

    assert confirmed == SESSION
    assert history == []


@pytest.mark.parametrize(
    "requested", [None, "", "../../etc", "x" * 65, 42], ids=["none", "empty", "path", "long", "int"]
)
def test_missing_or_malformed_session_id_gets_a_new_one(running: Running, requested: Any) -> None:
    with running() as url, chat(url) as client:
        confirmed, _ = start_session(client, requested)

    assert len(confirmed) == 32 and confirmed != requested
    int(confirmed, 16)


def test_message_gets_rasa_shaped_replies_between_typing_events(
    running: Running, fake_rasa: FakeRasa
) -> None:
    fake_rasa.replies = [
        OutgoingMessage(text="I can help with:", buttons=[HELP_BUTTON]),
        OutgoingMessage(image="https://nb.example/map.png"),
    ]
    with running() as url, chat(url) as client:
        start_session(client)
        events = turn(client, "help", customData={"page": "/"})

    quick_reply = {
        "content_type": "text",
        "title": "Where is my order?",
        "payload": "/order_status",
    }
    image = {"type": "image", "payload": {"src": "https://nb.example/map.png"}}
    assert events == [
        ["bot_typing", {"typing": True}],
        [
            "bot_uttered",
            {
                "text": "I can help with:",
                "quick_replies": [quick_reply],
                "metadata": {"linkTarget": "_blank"},
            },
        ],
        ["bot_uttered", {"attachment": image}],
        ["bot_typing", {"typing": False}],
    ]
    [message] = fake_rasa.received
    assert (message.sender_id, message.channel, message.text) == (f"web:{SESSION}", "web", "help")
    assert message.metadata == {"page": "/"}


def test_history_survives_a_gateway_restart_and_shows_button_titles(
    running: Running, fake_rasa: FakeRasa
) -> None:
    fake_rasa.replies = [
        OutgoingMessage(
            text="I can help with:", buttons=[Button("Where is my order?", "/order_status")]
        )
    ]
    with running() as url, chat(url) as client:
        start_session(client)
        turn(client, "help")
        fake_rasa.replies = [OutgoingMessage(text="Which order number?")]
        turn(client, "/order_status")

    with running() as url, chat(url) as client:
        _, history = start_session(client)

    assert [(m["role"], m["text"]) for m in history] == [
        ("user", "help"),
        ("bot", "I can help with:"),
        ("user", "Where is my order?"),
        ("bot", "Which order number?"),
    ]
    assert history[1]["buttons"] == [{"title": "Where is my order?", "payload": "/order_status"}]


def test_other_sessions_do_not_see_the_history(running: Running) -> None:
    with running() as url, chat(url) as client:
        start_session(client)
        turn(client, "where is my order SO-100123")
    with running() as url, chat(url) as other:
        _, history = start_session(other, "fedcba9876543210fedcba9876543210")

    assert history == []


def test_over_the_rate_limit_gets_a_clear_reply(running: Running, fake_rasa: FakeRasa) -> None:
    with running(rate_limit_burst=2, rate_limit_per_minute=1) as url, chat(url) as client:
        start_session(client)
        turn(client, "one")
        turn(client, "two")
        events = turn(client, "three")

    [reply] = [data for name, data in events if name == "bot_uttered"]
    assert reply["text"].startswith("You're sending messages faster than I can answer")
    assert [m.text for m in fake_rasa.received] == ["one", "two"]


@pytest.mark.parametrize(
    ("data", "notice"),
    [
        ({"message": "a" * 2001}, "text is longer than 2000 characters (2001)"),
        ({"message": " \n "}, "text must not be empty"),
        ({"text": "no message key"}, "it has no text"),
    ],
    ids=["too-long", "blank", "no-message"],
)
def test_bad_input_gets_a_reply_saying_what_was_wrong(
    running: Running, fake_rasa: FakeRasa, data: dict, notice: str
) -> None:
    with running() as url, chat(url) as client:
        start_session(client)
        client.emit("user_uttered", {**data, "session_id": SESSION})
        replies = []
        while not replies:
            name, payload = client.receive(timeout=5)
            if name == "bot_uttered":
                replies.append(payload["text"])

    assert notice in replies[0]
    assert fake_rasa.received == []


def test_rasa_down_gets_an_apology_not_silence(running: Running, fake_rasa: FakeRasa) -> None:
    fake_rasa.up = False
    with running() as url, chat(url) as client:
        start_session(client)
        events = turn(client, "hi")

    [reply] = [data for name, data in events if name == "bot_uttered"]
    assert "temporarily unavailable" in reply["text"]


async def test_long_polling_handshake_works_for_clients_without_websockets(
    client: httpx.AsyncClient,
) -> None:
    # socket.io-client (rasa-webchat) starts with HTTP long polling, then upgrades.
    opened = await client.get("/socket.io/?EIO=4&transport=polling")
    assert opened.status_code == 200 and opened.text.startswith("0{")
    sid = json.loads(opened.text[1:])["sid"]
    url = f"/socket.io/?EIO=4&transport=polling&sid={sid}"

    sent = await client.post(url, content=b"40")
    connected = await client.get(url)

    assert sent.status_code == 200 and sent.text == "OK"
    assert connected.text.startswith("40{")


async def test_demo_page_embeds_the_widget_with_one_div_and_one_script(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/")
    script = await client.get("/static/widget.js")
    style = await client.get("/static/widget.css")

    assert page.status_code == 200 and "Northbridge Supply" in page.text
    assert '<div id="erp-assistant"></div>' in page.text
    assert '<script src="/static/widget.js" defer></script>' in page.text
    assert script.status_code == 200 and style.status_code == 200
    assert "session_request" in script.text and "localStorage" in script.text
    # Bot and user text are rendered with textContent, never parsed as HTML.
    assert "innerHTML" not in script.text


async def test_demo_page_loads_nothing_from_other_hosts(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    styles = [(await client.get(f"/static/{name}")).text for name in ("site.css", "widget.css")]

    assert "http" not in page.text
    assert all("url(" not in s and "@import" not in s for s in styles)
    assert "script-src 'self'" in page.headers["content-security-policy"]


async def test_socket_io_origins_follow_the_setting(make_client: Any) -> None:
    client = await make_client(
        settings=dataclasses.replace(SETTINGS, widget_origins=("https://nb.example",))
    )

    allowed = await client.get(
        "/socket.io/?EIO=4&transport=polling", headers={"Origin": "https://nb.example"}
    )
    refused = await client.get(
        "/socket.io/?EIO=4&transport=polling", headers={"Origin": "https://evil.example"}
    )

    assert allowed.status_code == 200
    assert refused.status_code == 400
