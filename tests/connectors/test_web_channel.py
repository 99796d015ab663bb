"""The web chat channel over real Socket.IO: Rasa's socketio protocol, server-issued session
tokens (forged, expired, retired and replayed ones open nothing), rotation on verification,
durable history, limits, logs; and the widget and demo page the gateway serves."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import socketio

from benchmarks.fake_platforms import serve
from connectors.channels.web import SessionTokens, verification_fingerprint
from connectors.errors import StoreUnavailable
from connectors.gateway import create_app
from connectors.messages import Button, OutgoingMessage
from connectors.store import GatewayStore
from contracts.redaction import conversation_tag
from erp.access import Verification, sign_verification
from tests.connectors.fakes import SETTINGS, FakeRasa, actions_transport

SECRET = "web-session-secret-for-tests"
VERIFICATION_SECRET = b"v" * 32
WEEK = 7 * 24 * 3600.0
HELP_BUTTON = Button("Where is my order?", "/order_status")
Running = Callable[..., AbstractContextManager[str]]


@pytest.fixture
def running(fake_rasa: FakeRasa, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Running:
    """Serve a gateway (lifespan and WebSockets on) over real HTTP; yields its URL."""
    monkeypatch.setenv("VERIFICATION_SECRET", VERIFICATION_SECRET.decode())

    @contextmanager
    def run(**overrides: Any) -> Iterator[str]:
        settings = dataclasses.replace(
            SETTINGS,
            gateway_db=str(tmp_path / "gateway.db"),
            web_session_secret=SECRET,
            **overrides,
        )
        app = create_app(
            settings, db_check=lambda: True, rasa_client=fake_rasa, transport=actions_transport()
        )
        with serve(app, lifespan=True) as url:
            yield url

    return run


def tokens(secret: str = SECRET, max_age: float = WEEK) -> SessionTokens:
    return SessionTokens(secret.encode(), max_age=max_age)


def key_of(token: str) -> str:
    claim = tokens().read(token)
    assert claim is not None, f"not a valid token: {token!r}"
    return claim.key


@contextmanager
def chat(url: str) -> Iterator[socketio.SimpleClient]:
    client = socketio.SimpleClient()
    client.connect(url, transports=["websocket"])
    try:
        yield client
    finally:
        client.disconnect()


def start_session(client: socketio.SimpleClient, session_id: Any = None) -> tuple[str, list]:
    client.emit("session_request", {"session_id": session_id})
    confirm = client.receive(timeout=5)
    history = client.receive(timeout=5)
    assert confirm[0] == "session_confirm" and history[0] == "session_history"
    return confirm[1], history[1]["messages"]


def turn(client: socketio.SimpleClient, text: str, **extra: Any) -> list[list[Any]]:
    """Send one message; return every event up to the end of the bot's turn."""
    client.emit("user_uttered", {"message": text, **extra})
    events = []
    while True:
        event = client.receive(timeout=5)
        events.append(event)
        if event == ["bot_typing", {"typing": False}]:
            return events


def receive_until(client: socketio.SimpleClient, name: str, timeout: float = 5.0) -> Any:
    """The data of the next ``name`` event, skipping others (TimeoutError if none comes)."""
    deadline = time.monotonic() + timeout
    while True:
        event, data = client.receive(timeout=max(0.01, deadline - time.monotonic()))
        if event == name:
            return data


def confirmed(events: list[list[Any]]) -> Any:
    """The token of the turn's ``session_confirm``, or None when the turn had none."""
    return next((data for name, data in events if name == "session_confirm"), None)


def drain(client: socketio.SimpleClient) -> list[list[Any]]:
    """Every event a client has received and not read yet."""
    events = []
    while True:
        try:
            events.append(client.receive(timeout=0.2))
        except (socketio.exceptions.TimeoutError, socketio.exceptions.DisconnectedError):
            return events


def verified(conversation_id: str, customer_id: int = 42) -> str:
    record = Verification(
        conversation_id, customer_id, frozenset({"email"}), frozenset({"SO-1"}), time.time() + 3600
    )
    return sign_verification(record, secret=VERIFICATION_SECRET)


def test_a_new_visitor_gets_a_server_issued_token_and_keeps_it_across_a_reload(
    running: Running,
) -> None:
    with running() as url:
        with chat(url) as client:
            token, history = start_session(client)
            turn(client, "hello")
        with chat(url) as reloaded:
            again, kept = start_session(reloaded, token)

    assert history == []
    assert len(token) <= 80 and key_of(again) == key_of(token)
    assert [(m["role"], m["text"]) for m in kept] == [("user", "hello"), ("bot", "hello")]


@pytest.mark.parametrize(
    "requested",
    [None, "", "../../etc", "x" * 65, 42, "0123456789abcdef0123456789abcdef"],
    ids=["none", "empty", "path", "long", "int", "made-up-hex-id"],
)
def test_missing_or_malformed_session_id_gets_a_new_one(running: Running, requested: Any) -> None:
    with running() as url, chat(url) as client:
        confirmed, history = start_session(client, requested)

    assert confirmed != requested and history == []
    assert tokens().read(confirmed) is not None


def _forged(token: str) -> str:
    key, generation, expires, _ = token.split(".")
    return f"{key}.{generation}.{expires}.AAAAAAAAAAAAAAAAAAAAAA"


def _expired(token: str) -> str:
    return tokens(max_age=-60).issue(key_of(token), 0)


def _other_secret(token: str) -> str:
    return tokens("another-secret-of-16+chars").issue(key_of(token), 0)


def _later_expiry(token: str) -> str:
    key, generation, expires, signature = token.split(".")
    return f"{key}.{generation}.{int(expires) + 10**6}.{signature}"


def _next_generation(token: str) -> str:
    key, generation, expires, signature = token.split(".")
    return f"{key}.{int(generation) + 1}.{expires}.{signature}"


@pytest.mark.parametrize(
    "tamper",
    [_forged, _expired, _other_secret, _later_expiry, _next_generation, lambda t: key_of(t)],
    ids=["forged-signature", "expired", "other-secret", "edited-expiry", "edited-generation",
         "bare-conversation-key"],
)  # fmt: skip
def test_a_token_the_server_did_not_issue_as_is_opens_a_new_empty_conversation(
    running: Running, fake_rasa: FakeRasa, tamper: Callable[[str], str]
) -> None:
    with running() as url:
        with chat(url) as victim:
            token, _ = start_session(victim)
            turn(victim, "where is my order SO-100123")
        with chat(url) as attacker:
            confirmed, history = start_session(attacker, tamper(token))
            turn(attacker, "and the tracking number?")

    assert history == []
    assert key_of(confirmed) != key_of(token)
    assert fake_rasa.received[-1].sender_id == f"web:{key_of(confirmed)}"


def test_a_client_that_skips_session_request_cannot_name_another_conversation(
    running: Running, fake_rasa: FakeRasa
) -> None:
    with running() as url:
        with chat(url) as victim:
            token, _ = start_session(victim)
        with chat(url) as attacker:
            attacker.emit("user_uttered", {"message": "hi", "session_id": _forged(token)})
            confirmed = receive_until(attacker, "session_confirm")
            receive_until(attacker, "bot_uttered")

    assert key_of(confirmed) != key_of(token)
    assert [m.sender_id for m in fake_rasa.received] == [f"web:{key_of(confirmed)}"]


def test_a_verification_rotates_the_token_and_retires_every_older_one(
    running: Running, fake_rasa: FakeRasa
) -> None:
    with running() as url:
        with chat(url) as browser, chat(url) as copy:
            token, _ = start_session(browser)
            start_session(copy, token)  # a copy of the token taken before the verification
            fake_rasa.slot_values = {"verification": verified(f"web:{key_of(token)}")}
            events = turn(browser, "jo@example.com")
            names = [name for name, _ in events]
            rotated = events[names.index("session_confirm")][1]
            deadline = time.monotonic() + 5
            while copy.connected and time.monotonic() < deadline:
                time.sleep(0.05)
            copy_disconnected = not copy.connected
            copy_saw = drain(copy)
            turn(browser, "and my invoices?")
        with chat(url) as replay:
            replayed, replay_history = start_session(replay, token)
        with chat(url) as reload:
            reloaded, history = start_session(reload, rotated)

    assert key_of(rotated) == key_of(token) and rotated.split(".")[1] == "1"
    # The new token comes before the answer, which the old token's window never sees.
    assert names.index("session_confirm") < names.index("bot_uttered")
    assert copy_disconnected
    assert "bot_uttered" not in [name for name, _ in copy_saw]
    assert replay_history == [] and key_of(replayed) != key_of(token)
    assert key_of(reloaded) == key_of(token)
    assert [m["text"] for m in history if m["role"] == "user"] == [
        "jo@example.com",
        "and my invoices?",
    ]


def test_the_same_verification_signed_again_does_not_rotate_again(
    running: Running, fake_rasa: FakeRasa
) -> None:
    with running() as url, chat(url) as browser:
        token, _ = start_session(browser)
        conversation = f"web:{key_of(token)}"
        fake_rasa.slot_values = {"verification": verified(conversation)}
        rotated = confirmed(turn(browser, "jo@example.com"))
        # The action server re-signs the record (another record, a later expiry).
        time.sleep(0.01)
        fake_rasa.slot_values = {"verification": verified(conversation)}
        resigned = confirmed(turn(browser, "and SO-2?"))
        fake_rasa.slot_values = {"verification": verified(conversation, customer_id=7)}
        again = confirmed(turn(browser, "SO-3 of another customer, verified too"))

    assert resigned is None

    assert [t.split(".")[1] for t in (token, rotated, again)] == ["0", "1", "2"]


def test_verification_fingerprints_tell_customers_apart_not_signatures() -> None:
    conversation = "web:abc"
    first = verified(conversation)
    time.sleep(0.01)
    resigned = verified(conversation)
    other = verified(conversation, customer_id=7)

    def fingerprint(value: object) -> str | None:
        return verification_fingerprint(
            value, conversation_id=conversation, secret=VERIFICATION_SECRET
        )

    assert first != resigned and fingerprint(first) == fingerprint(resigned)
    assert fingerprint(other) != fingerprint(first)
    assert fingerprint(None) is None and fingerprint("") is None
    # A value the gateway cannot read still counts as a change, so it rotates.
    assert fingerprint("garbage") not in (None, fingerprint(first))


def test_message_gets_rasa_shaped_replies_between_typing_events(
    running: Running, fake_rasa: FakeRasa
) -> None:
    fake_rasa.replies = [
        OutgoingMessage(text="I can help with:", buttons=[HELP_BUTTON]),
        OutgoingMessage(image="https://nb.example/map.png"),
    ]
    with running() as url, chat(url) as client:
        token, _ = start_session(client)
        events = turn(client, "help", customData={"page": "/", "client": "ip:10.0.0.1"})

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
    assert (message.sender_id, message.channel, message.text) == (
        f"web:{key_of(token)}",
        "web",
        "help",
    )
    assert message.metadata == {"page": "/", "client": "ip:10.0.0.1"}
    # The client key comes from the connection, whatever the page claims.
    assert (message.client, message.group) == ("ip:127.0.0.1", False)


def test_history_survives_a_gateway_restart_and_shows_button_titles(
    running: Running, fake_rasa: FakeRasa
) -> None:
    fake_rasa.replies = [
        OutgoingMessage(
            text="I can help with:", buttons=[Button("Where is my order?", "/order_status")]
        )
    ]
    with running() as url, chat(url) as client:
        token, _ = start_session(client)
        turn(client, "help")
        fake_rasa.replies = [OutgoingMessage(text="Which order number?")]
        turn(client, "/order_status")

    with running() as url, chat(url) as client:
        _, history = start_session(client, token)

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


def test_over_the_rate_limit_gets_a_clear_reply_however_many_sessions_it_opens(
    running: Running, fake_rasa: FakeRasa
) -> None:
    with running(rate_limit_burst=2, rate_limit_per_minute=1) as url:
        with chat(url) as client:
            start_session(client)
            turn(client, "one")
            turn(client, "two")
        # A new session (a new conversation) from the same address buys no new budget.
        with chat(url) as fresh:
            start_session(fresh)
            events = turn(fresh, "three")

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
        client.emit("user_uttered", data)
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


async def test_the_client_key_is_the_peer_address_of_the_connection(
    fake_rasa: FakeRasa,
) -> None:
    app = create_app(
        SETTINGS, db_check=lambda: True, rasa_client=fake_rasa, transport=actions_transport()
    )
    transport = httpx.ASGITransport(app=app, client=("203.0.113.5", 51000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client,
    ):
        opened = await client.get("/socket.io/?EIO=4&transport=polling")
        url = f"/socket.io/?EIO=4&transport=polling&sid={json.loads(opened.text[1:])['sid']}"
        await client.post(url, content=b"40")
        await client.get(url)  # the connect acknowledgement
        await client.post(url, content=b'42["user_uttered",{"message":"hi"}]')
        with anyio.fail_after(5):
            while not fake_rasa.received:
                await client.get(url)

    [message] = fake_rasa.received
    assert message.client == "ip:203.0.113.5"


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


async def _handshake(client: httpx.AsyncClient, origin: str) -> int:
    response = await client.get("/socket.io/?EIO=4&transport=polling", headers={"Origin": origin})
    return response.status_code


async def test_only_the_gateways_own_origin_may_open_the_chat_by_default(
    client: httpx.AsyncClient,
) -> None:
    assert await _handshake(client, "http://gw.test") == 200
    assert await _handshake(client, "https://evil.example") == 400
    assert await _handshake(client, "http://gw.test.evil.example") == 400


async def test_socket_io_origins_follow_the_setting(make_client: Any) -> None:
    client = await make_client(
        settings=dataclasses.replace(SETTINGS, widget_origins=("https://nb.example",))
    )

    assert await _handshake(client, "https://nb.example") == 200
    assert await _handshake(client, "http://gw.test") == 200
    assert await _handshake(client, "https://evil.example") == 400


async def test_any_origin_when_configured_with_a_star(make_client: Any) -> None:
    client = await make_client(settings=dataclasses.replace(SETTINGS, widget_origins=("*",)))

    assert await _handshake(client, "https://evil.example") == 200


def test_session_tokens_and_questions_never_reach_the_logs(
    running: Running, fake_rasa: FakeRasa, caplog: pytest.LogCaptureFixture
) -> None:
    fake_rasa.up = False  # the error path logs too
    question = "where is order SO-100123 for jo@example.com"
    with caplog.at_level(logging.DEBUG, logger="connectors"), running() as url:
        with chat(url) as client:
            token, _ = start_session(client)
            turn(client, question)
        with chat(url) as forger:
            start_session(forger, _forged(token))

    logged = caplog.text
    assert conversation_tag(f"web:{key_of(token)}") in logged
    assert key_of(token) not in logged and token not in logged
    assert "SO-100123" not in logged and "where is order" not in logged


def test_the_gateway_database_down_gets_an_apology_not_silence(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(*args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("gateway database: server closed the connection unexpectedly")

    with running() as url, chat(url) as client:
        start_session(client)
        monkeypatch.setattr(GatewayStore, "append_user", down)
        events = turn(client, "where is my order?")
        monkeypatch.setattr(GatewayStore, "session_generation", down)
        with chat(url) as other:
            other.emit("session_request", {"session_id": None})
            opened = [other.receive(timeout=5), other.receive(timeout=5)]

    for seen in (events, opened):
        texts = [data.get("text", "") for name, data in seen if name == "bot_uttered"]
        assert any("temporarily unavailable" in text for text in texts), seen
        assert seen[-1] == ["bot_typing", {"typing": False}]
