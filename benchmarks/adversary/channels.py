"""How the suite talks to the running assistant: as a REST client, a web chat window, the
Telegram and Slack platforms (their webhooks, signed or not), and raw HTTP to any service.

Every client can come from a loopback address of its own (127.x.y.z), so that each attacker
is a client of its own to the gateway's rate limits and lockouts, as on a real network.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import socket
import sqlite3
import time
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import socketio

from benchmarks.adversary.script import Signing, Slack, Telegram

TURN_TIMEOUT = 60.0
# How long a chat window listens after its turn for what follows it (a rotated token).
TURN_SETTLE_S = 0.3
# Slack is answered in the background: a reply is complete once nothing new came this long.
SLACK_SETTLE_S = 0.8
TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass(frozen=True)
class Endpoints:
    """Where the running stack answers, and what only the platforms and the test know."""

    gateway_url: str
    rasa_url: str
    actions_url: str
    telegram_secret: str
    slack_signing_secret: str
    slack_response_url: str
    gateway_db: str
    tracker_db: str

    def base(self, service: str) -> str:
        return {"gateway": self.gateway_url, "rasa": self.rasa_url, "actions": self.actions_url}[
            service
        ]


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status and body text (``status`` 0: no answer, ``error`` says why)."""

    status: int
    text: str
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def request(
    url: str,
    method: str,
    *,
    address: str | None = None,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    content: bytes | None = None,
    timeout: float = TURN_TIMEOUT,
) -> Answer:
    """One HTTP request from ``address`` (a loopback address; None: the default one)."""
    transport = httpx.HTTPTransport(local_address=address) if address else None
    try:
        with httpx.Client(transport=transport, timeout=timeout) as client:
            response = client.request(
                method,
                url,
                headers=dict(headers or {}),
                json=body if content is None and body is not None else None,
                content=content,
            )
    except httpx.HTTPError as error:
        return Answer(0, "", f"{type(error).__name__}: {error}")
    return Answer(response.status_code, response.text)


def rest_texts(answer: Answer) -> list[str]:
    """The reply texts of a ``POST /api/messages`` answer (buttons and custom included)."""
    try:
        messages = json.loads(answer.text).get("messages") or []
    except (ValueError, AttributeError):
        return [answer.text] if answer.text else []
    return [json.dumps(m, ensure_ascii=False) for m in messages if isinstance(m, dict)]


@dataclass
class WebWindow:
    """A chat window on the gateway's Socket.IO endpoint, recording every event it gets."""

    url: str
    address: str
    events: list[list[Any]] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    # The server closed the window (a refused connection, or a rotation elsewhere).
    closed_by_server: bool = False
    _client: socketio.SimpleClient | None = None

    def open(self, request: str | None, *, skip_request: bool = False) -> None:
        """Connect as a page of the gateway's own site (websocket-client sends the Origin
        of the URL) and, unless ``skip_request``, ask for the session ``request``."""
        parts = urlsplit(self.url)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.bind((self.address, 0))
        sock.connect((parts.hostname or "127.0.0.1", parts.port or 80))
        self._client = socketio.SimpleClient(websocket_extra_options={"socket": sock})
        try:
            self._client.connect(self.url, transports=["websocket"], wait_timeout=10)
        except socketio.exceptions.ConnectionError:
            self.closed_by_server = True
            self._client = None
            sock.close()
            return
        if skip_request:
            return
        payload = {} if request is None else {"session_id": request}
        self._client.emit("session_request", payload)
        self._read_until(lambda event: event[0] == "session_history", timeout=10)

    @property
    def token(self) -> str | None:
        return self.tokens[-1] if self.tokens else None

    def say(self, text: str, *, session_id: str | None, custom_data: Any = None) -> None:
        """Send one message and read until the bot's turn ends (typing off)."""
        if self._client is None:
            return  # the server closed this window: nothing can be said in it
        data: dict[str, Any] = {"message": text, "session_id": session_id or self.token}
        if custom_data is not None:
            data["customData"] = custom_data
        self._client.emit("user_uttered", data)
        self._read_until(lambda event: event == ["bot_typing", {"typing": False}])
        # A verification rotates the session token just after the answer; a real widget
        # stores it before the user types again, and so does this one.
        self.drain(TURN_SETTLE_S)

    def drain(self, quiet: float = 0.5) -> None:
        """Read whatever else arrives until nothing has for ``quiet`` seconds."""
        if self._client is None:
            return
        while self._client is not None:
            try:
                self._record(self._client.receive(timeout=quiet))
            except socketio.exceptions.TimeoutError:
                return
            except socketio.exceptions.DisconnectedError:
                self._server_closed()

    def close(self) -> None:
        if self._client is not None:
            self.drain(0.2)
        if self._client is not None:
            self._client.disconnect()
            self._client = None

    def seen(self) -> list[str]:
        """Every event as text: replies, drafts, history, confirmations."""
        return [json.dumps(event, ensure_ascii=False) for event in self.events]

    def _read_until(self, done: Any, *, timeout: float = TURN_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while self._client is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"web chat: no end of turn within {timeout:.0f} s")
            try:
                event = self._client.receive(timeout=left)
            except socketio.exceptions.DisconnectedError:
                self._server_closed()
                return
            self._record(event)
            if done(event):
                return

    def _server_closed(self) -> None:
        self.closed_by_server = True
        if self._client is not None:
            self._client.disconnect()
            self._client = None

    def _record(self, event: list[Any]) -> None:
        self.events.append(event)
        if event and event[0] == "session_confirm" and len(event) > 1:
            confirmed = event[1]
            if isinstance(confirmed, dict):
                confirmed = confirmed.get("session_id")
            if isinstance(confirmed, str):
                self.tokens.append(confirmed)


_update_ids = itertools.count(int(time.time()) % 1_000_000 * 1000)


def telegram_update(place: Telegram, text: str) -> dict[str, Any]:
    """A text message update as Telegram sends it."""
    chat: dict[str, Any] = {"id": place.chat, "type": "group" if place.group else "private"}
    if place.group:
        chat["title"] = "Suppliers chat"
    else:
        chat["first_name"] = "Customer"
    return {
        "update_id": next(_update_ids),
        "message": {
            "message_id": next(_update_ids) % 1_000_000,
            "from": {"id": place.user, "is_bot": False, "first_name": "Customer"},
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        },
    }


def post_telegram(endpoints: Endpoints, place: Telegram, text: str) -> Answer:
    headers = {}
    if place.signing is Signing.VALID:
        headers[TELEGRAM_SECRET_HEADER] = endpoints.telegram_secret
    elif place.signing is not Signing.MISSING:
        headers[TELEGRAM_SECRET_HEADER] = "guessed-secret_123"
    return request(
        endpoints.gateway_url + "/telegram/webhook",
        "POST",
        headers=headers,
        body=telegram_update(place, text),
    )


_slack_ids = itertools.count(1)


def post_slack(endpoints: Endpoints, place: Slack, text: str) -> Answer:
    """A mention or DM event, or an /erp command, signed as ``place.signing`` says."""
    n = next(_slack_ids)
    if place.command:
        fields = {
            "team_id": place.team,
            "user_id": place.user,
            "command": "/erp",
            "text": text,
            "response_url": f"{endpoints.slack_response_url}/{place.channel}",
            "trigger_id": f"trig-{n}-{time.time_ns()}",
            "channel_id": f"D{place.user[1:]}",
        }
        body = urlencode(fields).encode()
        path, kind = "/slack/commands", "application/x-www-form-urlencoded"
    else:
        ts = f"{time.time():.6f}"
        event: dict[str, Any] = {
            "type": "message" if place.dm else "app_mention",
            "user": place.user,
            "text": text if place.dm else f"<@UBOT> {text}",
            "ts": ts,
            "channel": place.channel,
            "event_ts": ts,
        }
        if place.dm:
            event["channel_type"] = "im"
        if place.thread:
            event["thread_ts"] = place.thread
        payload = {
            "token": "x",
            "team_id": place.team,
            "api_app_id": "A0001",
            "event": event,
            "type": "event_callback",
            "event_id": f"EvSEC{n:06d}{time.time_ns()}",
            "event_time": int(time.time()),
        }
        body = json.dumps(payload).encode()
        path, kind = "/slack/events", "application/json"
    headers = {"Content-Type": kind, **_slack_signature(endpoints, place.signing, body)}
    return request(endpoints.gateway_url + path, "POST", headers=headers, content=body)


def _slack_signature(endpoints: Endpoints, signing: Signing, body: bytes) -> dict[str, str]:
    if signing is Signing.MISSING:
        return {}
    at = int(time.time()) - (600 if signing is Signing.STALE else 0)
    secret = endpoints.slack_signing_secret if signing is not Signing.WRONG else "guessed"
    base = f"v0:{at}:".encode() + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(at), "X-Slack-Signature": f"v0={digest}"}


def platform_messages(calls: list[Any], places: set[str]) -> list[str]:
    """What the fake Telegram and Slack APIs were asked to show in ``places``
    (``telegram:<chat>``, ``slack:<channel>``, ``hook:<name>``)."""
    shown: list[str] = []
    for call in calls:
        if _place_of(call) in places:
            shown.append(json.dumps(call.params, ensure_ascii=False))
    return shown


def _place_of(call: Any) -> str | None:
    params = call.params
    if call.platform == "telegram" and "chat_id" in params:
        return f"telegram:{params['chat_id']}"
    if call.platform == "slack" and call.method in (
        "chat.postMessage",
        "chat.update",
        "chat.postEphemeral",
    ):
        return f"slack:{params.get('channel')}"
    if call.platform == "slack-response":
        return f"hook:{call.method}"
    return None


def wait_for_slack(platforms: Any, place: str, *, since: int, timeout: float) -> bool:
    """Wait for the background answer in ``place`` after call number ``since``; whether one
    came. Returns once nothing new arrived for SLACK_SETTLE_S."""
    deadline = time.monotonic() + timeout
    seen = -1
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        count = sum(1 for call in platforms.calls[since:] if _place_of(call) == place)
        if count != seen:
            seen, quiet_since = count, time.monotonic()
        elif count > 0 and time.monotonic() - quiet_since >= SLACK_SETTLE_S:
            return True
        time.sleep(0.05)
    return seen > 0


def latest_web_conversation(gateway_db: str) -> str | None:
    """The web conversation whose user spoke last (the suite runs one turn at a time)."""
    rows = _query(
        gateway_db,
        "SELECT conversation_id FROM transcript WHERE conversation_id LIKE 'web:%' "
        "AND role = 'user' ORDER BY id DESC LIMIT 1",
        (),
    )
    return str(rows[0][0]) if rows else None


def slot_value(tracker_db: str, conversation: str, slot: str) -> str | None:
    """The latest value the Rasa tracker store holds for ``slot`` in ``conversation``."""
    rows = _query(
        tracker_db,
        "SELECT data FROM events WHERE sender_id = ? AND type_name = 'slot' ORDER BY id DESC",
        (conversation,),
    )
    for (data,) in rows:
        event = json.loads(data)
        if event.get("name") == slot:
            value = event.get("value")
            return value if isinstance(value, str) else None
    return None


def _query(path: str, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as db:
            return list(db.execute(sql, params))
    except sqlite3.Error:
        return []


def tampered(token: str) -> str:
    """The token with its last character changed: a forged signature."""
    if not token:
        return "x" * 32
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "B")
