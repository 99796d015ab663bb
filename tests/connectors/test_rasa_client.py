"""RasaClient against a scripted Rasa (httpx.MockTransport): payload, reply mapping, failures."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from connectors.errors import RasaUnavailable
from connectors.messages import Button, IncomingMessage, OutgoingMessage
from connectors.rasa_client import RasaClient

RASA = "http://rasa.test:5005"


def rasa_client(handle: Callable[[httpx.Request], httpx.Response]) -> RasaClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    return RasaClient(http, base_url=RASA + "/", timeout=1.5)


async def test_send_posts_the_rest_channel_payload() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    message = IncomingMessage(
        "u-1", "rest", "Grüße 👋", metadata={"lang": "de", "channel": "x", "role": "staff"}
    )
    await rasa_client(handle).send(message)

    [request] = seen
    assert request.method == "POST"
    assert str(request.url) == RASA + "/webhooks/rest/webhook"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "sender": "u-1",
        "message": "Grüße 👋",
        "metadata": {"lang": "de", "channel": "rest", "role": "customer"},
    }


async def test_only_a_staff_message_is_sent_with_the_staff_role() -> None:
    seen: list[dict] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json=[])

    await rasa_client(handle).send(IncomingMessage("slack:T1:U1", "slack", "hi", staff=True))

    assert seen[0]["metadata"] == {"channel": "slack", "role": "staff"}


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
        return httpx.Response(200, json=[])

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
    assert raised.value.url == RASA + "/webhooks/rest/webhook"


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
