"""RasaClient against a scripted Rasa (httpx.MockTransport): payload, auth, replies, failures."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from connectors.errors import RasaUnavailable
from connectors.messages import Button, IncomingMessage, OutgoingMessage
from connectors.rasa_client import RasaClient

RASA = "http://rasa.test:5005"
TOKEN = "rasa-token-1"
ANSWER = [{"recipient_id": "u-1", "text": "Hello!"}]


def rasa_client(handle: Callable[[httpx.Request], httpx.Response]) -> RasaClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    return RasaClient(http, base_url=RASA + "/", token=TOKEN, timeout=1.5)


async def test_send_posts_the_rest_channel_payload() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ANSWER)

    # Client metadata claiming a channel, a role, a client or a group is overridden.
    claims = {"channel": "x", "role": "staff", "client": "ip:10.0.0.1", "group": True,
              "staff_writes": True, "roles": ["admin"]}  # fmt: skip
    message = IncomingMessage("u-1", "rest", "Grüße 👋", metadata={"lang": "de", **claims})
    await rasa_client(handle).send(message)

    [request] = seen
    sent = json.loads(request.content)
    assert len(sent["metadata"].pop("turn")) == 32  # a fresh id per turn
    assert request.method == "POST"
    assert str(request.url) == RASA + "/webhooks/gateway/webhook"
    assert request.headers["content-type"] == "application/json"
    assert sent == {
        "sender": "u-1",
        "message": "Grüße 👋",
        "metadata": {
            "lang": "de",
            "channel": "rest",
            "role": "customer",
            "staff_writes": False,
            "roles": [],
            "client": "u-1",
            "group": False,
        },
    }


async def test_a_staff_members_roles_go_in_the_metadata_sorted() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ANSWER)

    message = IncomingMessage("slack:T1:U1", "slack", "ageing", staff=True,
                              staff_roles=frozenset({"sales", "finance"}))  # fmt: skip
    await rasa_client(handle).send(message)

    metadata = json.loads(seen[0].content)["metadata"]
    assert (metadata["role"], metadata["roles"]) == ("staff", ["finance", "sales"])


async def test_send_authenticates_with_a_bearer_header_not_the_url() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ANSWER)

    await rasa_client(handle).send(IncomingMessage("u-1", "rest", "hi"))

    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    # The channel checks the header; a token in the URL would end up in access logs.
    assert TOKEN not in str(seen[0].url)


async def test_tracker_calls_carry_the_api_token_as_rasa_expects() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"slots": {"sku": None}})

    client = rasa_client(handle)
    await client.slots("web:a")
    await client.append_events("web:a", [{"event": "slot", "name": "sku", "value": None}])

    assert [dict(request.url.params) for request in seen] == [
        {"include_events": "NONE", "token": TOKEN},
        {"include_events": "NONE", "token": TOKEN},
    ]


@pytest.mark.parametrize("status", [401, 403], ids=["401", "403"])
async def test_a_refused_token_is_named_in_the_error(status: int) -> None:
    client = rasa_client(lambda _: httpx.Response(status, json={"error": "no"}))

    with pytest.raises(RasaUnavailable) as sent:
        await client.send(IncomingMessage("u-1", "rest", "hi"))
    with pytest.raises(RasaUnavailable) as read:
        await client.slots("web:a")

    for raised in (sent, read):
        assert raised.value.reason == (
            f"Rasa answered HTTP {status}: it refused RASA_TOKEN (not the one Rasa was given)"
        )
        assert TOKEN not in str(raised.value)


async def test_only_a_staff_message_is_sent_with_the_staff_role() -> None:
    seen: list[dict] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json=ANSWER)

    await rasa_client(handle).send(IncomingMessage("slack:T1:U1", "slack", "hi", staff=True))
    writer = IncomingMessage("slack:T1:U2", "slack", "hi", staff=True, staff_writes=True)
    await rasa_client(handle).send(writer)

    assert [(s["metadata"]["role"], s["metadata"]["staff_writes"]) for s in seen] == [
        ("staff", False),
        ("staff", True),
    ]


async def test_send_maps_text_buttons_image_and_custom_in_order() -> None:
    replies = [
        {
            "recipient_id": "u-1",
            "text": "Which order?",
            "buttons": [
                {"title": "SO-1", "payload": '/choose{"id":"SO-1"}'},
                {"title": "no payload"},
                {"payload": "/no_title"},
                "not a button",
            ],
        },
        {"recipient_id": "u-1", "image": "https://erp.example/chart.png"},
        {"recipient_id": "u-1", "custom": {"handoff": True}},
        {"recipient_id": "u-1"},
        "not a reply",
    ]

    result = await rasa_client(lambda _: httpx.Response(200, json=replies)).send(
        IncomingMessage("u-1", "rest", "hi")
    )

    assert result == [
        OutgoingMessage(
            text="Which order?",
            buttons=[Button("SO-1", '/choose{"id":"SO-1"}'), Button("no payload", "no payload")],
        ),
        OutgoingMessage(image="https://erp.example/chart.png"),
        OutgoingMessage(custom={"handoff": True}),
    ]


async def test_lone_surrogate_in_metadata_is_sent_as_valid_json() -> None:
    seen: list[bytes] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return httpx.Response(200, json=ANSWER)

    await rasa_client(handle).send(IncomingMessage("u-1", "rest", "hi", metadata={"x": "\ud800"}))

    assert json.loads(seen[0])["metadata"]["x"] == "\ud800"


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def _time_out(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


@pytest.mark.parametrize(
    ("handle", "reason"),
    [
        (_refuse, "Rasa is unreachable"),
        (_time_out, "Rasa did not answer within 1.5 s"),
        (lambda _: httpx.Response(500, text="boom"), "Rasa answered HTTP 500"),
        (lambda _: httpx.Response(404), "Rasa answered HTTP 404"),
        (
            lambda _: httpx.Response(200, text="<html>"),
            "Rasa answered with a body that is not JSON",
        ),
        (
            lambda _: httpx.Response(200, json={"text": "hi"}),
            "Rasa answered with JSON that is not a list",
        ),
    ],
    ids=["connection-refused", "timeout", "http-500", "http-404", "not-json", "not-a-list"],
)
async def test_send_raises_rasa_unavailable(
    handle: Callable[[httpx.Request], httpx.Response], reason: str
) -> None:
    with pytest.raises(RasaUnavailable) as raised:
        await rasa_client(handle).send(IncomingMessage("u-1", "rest", "hi"))

    assert raised.value.reason.startswith(reason)
    assert raised.value.url == RASA + "/webhooks/gateway/webhook"


@pytest.mark.parametrize(
    ("handle", "expected"),
    [
        (lambda _: httpx.Response(200, text="Hello from Rasa: 3.6.21"), True),
        (lambda _: httpx.Response(503), False),
        (_refuse, False),
        (_time_out, False),
    ],
    ids=["200", "503", "refused", "timeout"],
)
async def test_healthy(handle: Callable[[httpx.Request], httpx.Response], expected: bool) -> None:
    assert await rasa_client(handle).healthy() is expected


class SilentRasa:
    """Rasa answering a turn with no reply; ``keeps``: whether its tracker kept the message
    (an action failed after it did) or not (an error inside Rasa before it saved anything).
    ``rewinds`` answer in turn with these statuses, then 200."""

    def __init__(self, body: list, *, keeps: bool = True, rewinds: list[int] | None = None):
        self.body, self.keeps, self.failures = body, keeps, list(rewinds or [])
        self.latest: str | None = "an earlier turn"
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.path.endswith("/webhook"):
            if self.keeps:
                self.latest = json.loads(request.content)["metadata"]["turn"]
            return httpx.Response(200, json=self.body)
        if request.method == "GET":
            return httpx.Response(200, json={"latest_message": {"metadata": {"turn": self.latest}}})
        if self.failures:
            return httpx.Response(self.failures.pop(0))
        return httpx.Response(200, json={})

    def rewinds(self) -> list[httpx.Request]:
        return [r for r in self.seen if r.url.path.endswith("/events")]


@pytest.mark.parametrize("body", [[], [{"recipient_id": "u-1"}]], ids=["none", "empty"])
async def test_a_turn_without_a_reply_is_taken_back_and_reported(body: list) -> None:
    # Rasa answers 200 with nothing when an action failed (the action server was down):
    # the user must hear "try again", and their resend must start the turn again.
    rasa = SilentRasa(body)

    with pytest.raises(RasaUnavailable) as raised:
        await rasa_client(rasa).send(IncomingMessage("web:a b", "rest", "hi"))

    assert "no reply" in raised.value.reason
    [rewind] = rasa.rewinds()
    assert rewind.method == "POST"
    assert rewind.url.raw_path.split(b"?")[0] == b"/conversations/web:a%20b/tracker/events"
    assert json.loads(rewind.content) == [
        {"event": "rewind"},
        {"event": "action", "name": "action_listen"},
    ]


async def test_a_message_rasa_did_not_keep_is_not_taken_back() -> None:
    # An error inside Rasa before it saved the turn also answers nothing: a rewind then would
    # take back the message before (the one the bot asked a question after).
    rasa = SilentRasa([], keeps=False)

    with pytest.raises(RasaUnavailable, match="no reply"):
        await rasa_client(rasa).send(IncomingMessage("u-1", "rest", "SW1A 1AA"))

    assert rasa.rewinds() == []


async def test_a_failed_take_back_still_reports_the_missing_reply() -> None:
    rasa = SilentRasa([], rewinds=[500])

    with pytest.raises(RasaUnavailable, match="no reply"):
        await rasa_client(rasa).send(IncomingMessage("u-1", "rest", "hi"))


@pytest.mark.parametrize(
    ("failures", "rewinds"),
    [([503, 503], 3), ([500], 1), ([502], 1)],
    ids=["balancer-had-no-replica", "rasa-error", "bad-gateway-maybe-applied"],
)
async def test_a_take_back_is_tried_again_only_when_it_reached_no_rasa(
    failures: list[int], rewinds: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("connectors.rasa_client.TAKE_BACK_PAUSES", (0.0, 0.0, 0.0))
    rasa = SilentRasa([], rewinds=failures)

    with pytest.raises(RasaUnavailable, match="no reply"):
        await rasa_client(rasa).send(IncomingMessage("u-1", "rest", "hi"))

    assert len(rasa.rewinds()) == rewinds  # a rewind that may have applied is never sent twice
