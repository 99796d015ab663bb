"""POST /api/messages and GET / through the whole gateway app, with a fake Rasa client: input
checks, API keys and loopback-only REST, conversation namespacing, limits, logs."""

from __future__ import annotations

import dataclasses
import json
import logging
import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from connectors.gateway import UNAVAILABLE_MESSAGE, create_app
from connectors.messages import Button, OutgoingMessage
from connectors.settings import ApiKey, GatewaySettings
from connectors.validation import MAX_BODY_BYTES, path_safe
from contracts.redaction import conversation_tag
from tests.connectors.fakes import SETTINGS, FakeRasa, MakeClient, actions_transport

SHOP_KEY = "shop-secret-0123456789"
KEYS = (ApiKey("shop", SHOP_KEY), ApiKey("other", "other-secret-0123456789"))


async def post(client: httpx.AsyncClient, body: object) -> tuple[int, dict]:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await client.post(
        "/api/messages", content=content, headers={"Content-Type": "application/json"}
    )
    return response.status_code, response.json()


async def test_reply_with_buttons_and_image_is_returned_in_order(
    client: httpx.AsyncClient, fake_rasa: FakeRasa
) -> None:
    fake_rasa.replies = [
        OutgoingMessage(
            text="Which order?",
            buttons=[Button("SO-1001", '/choose_order{"order_id":"SO-1001"}')],
        ),
        OutgoingMessage(image="https://erp.example/chart.png"),
        OutgoingMessage(text="plain"),
    ]

    status, body = await post(client, {"sender_id": "u-1", "text": "where is my order?"})

    assert status == 200
    assert body == {
        "messages": [
            {
                "text": "Which order?",
                "buttons": [{"title": "SO-1001", "payload": '/choose_order{"order_id":"SO-1001"}'}],
            },
            {"text": None, "buttons": [], "image": "https://erp.example/chart.png"},
            {"text": "plain", "buttons": []},
        ]
    }
    [sent] = fake_rasa.received
    assert (sent.sender_id, sent.channel, sent.text) == (
        "rest:local:u-1",
        "rest",
        "where is my order?",
    )
    assert (sent.client, sent.group) == ("ip:127.0.0.1", False)


async def test_metadata_is_passed_to_rasa(client: httpx.AsyncClient, fake_rasa: FakeRasa) -> None:
    status, _ = await post(client, {"sender_id": "u-1", "text": "hi", "metadata": {"lang": "de"}})

    assert status == 200
    assert fake_rasa.received[0].metadata == {"lang": "de"}


@asynccontextmanager
async def gateway_from(
    fake_rasa: FakeRasa, peer: str, settings: GatewaySettings = SETTINGS
) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway as seen by a client at ``peer`` (the address the connection comes from)."""
    app = create_app(
        settings, db_check=lambda: True, rasa_client=fake_rasa, transport=actions_transport()
    )
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client,
    ):
        yield client


@pytest.mark.parametrize("peer", ["127.0.0.1", "127.5.6.7", "::1", "::ffff:127.0.0.1"])
async def test_without_api_keys_loopback_clients_are_answered(
    fake_rasa: FakeRasa, peer: str
) -> None:
    async with gateway_from(fake_rasa, peer) as client:
        status, _ = await post(client, {"sender_id": "u-1", "text": "hi"})

    assert status == 200
    assert fake_rasa.received[0].sender_id == "rest:local:u-1"


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Forwarded-For": "127.0.0.1"}, {"X-Real-IP": "127.0.0.1", "Forwarded": "for=::1"}],
    ids=["plain", "forwarded-for-loopback", "other-proxy-headers"],
)
async def test_without_api_keys_remote_clients_are_refused_whatever_their_headers_say(
    fake_rasa: FakeRasa, headers: dict[str, str]
) -> None:
    async with gateway_from(fake_rasa, "203.0.113.9") as client:
        response = await client.post(
            "/api/messages", json={"sender_id": "u-1", "text": "hi"}, headers=headers
        )
        pending = await client.get("/api/messages/u-1/pending", headers=headers)

    assert response.status_code == pending.status_code == 403
    assert "only local clients" in response.json()["error"]
    assert "GATEWAY_API_KEYS" in response.json()["error"]
    assert fake_rasa.received == []


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (None, "an API key is required"),
        ("Bearer wrong-secret-0123456789", "the API key is not valid"),
        (f"Basic {SHOP_KEY}", "an API key is required"),
        (f"Bearer {SHOP_KEY}x", "the API key is not valid"),
        ("Bearer ", "an API key is required"),
    ],
    ids=["missing", "wrong", "not-bearer", "longer", "empty"],
)
async def test_with_api_keys_a_missing_or_wrong_key_gets_401_even_from_loopback(
    fake_rasa: FakeRasa, authorization: str | None, reason: str
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    settings = dataclasses.replace(SETTINGS, api_keys=KEYS)
    async with gateway_from(fake_rasa, "127.0.0.1", settings) as client:
        response = await client.post(
            "/api/messages", json={"sender_id": "u-1", "text": "hi"}, headers=headers
        )
        pending = await client.get("/api/messages/u-1/pending", headers=headers)

    assert response.status_code == pending.status_code == 401
    assert response.json()["error"].startswith(reason)
    assert response.headers["www-authenticate"] == "Bearer"
    assert fake_rasa.received == []


async def test_with_an_api_key_conversations_are_namespaced_by_the_key(
    fake_rasa: FakeRasa,
) -> None:
    settings = dataclasses.replace(SETTINGS, api_keys=KEYS)
    async with gateway_from(fake_rasa, "198.51.100.4", settings) as client:
        response = await client.post(
            "/api/messages",
            json={"sender_id": "u-1", "text": "hi"},
            headers={"Authorization": f"Bearer {SHOP_KEY}"},
        )

    assert response.status_code == 200
    [sent] = fake_rasa.received
    assert (sent.sender_id, sent.client) == ("rest:shop:u-1", "rest:shop")


SPOOFED = [
    "web:0123456789abcdef0123456789abcdef",
    "telegram:1111111",
    "telegram:-100123:42",
    "slack:T0001:U061F7AUR",
    "rest:other:x",
    "rest:local:x",
    "\uff57\uff45\uff42:abc",  # fullwidth "web"
    "web\u200b:abc",
    "../web:abc",
    "/../../telegram:1",
    " web:abc",
]


@pytest.mark.parametrize("sender", SPOOFED, ids=lambda s: s.encode("unicode_escape").decode())
async def test_no_sender_id_reaches_another_channels_or_keys_conversation(
    fake_rasa: FakeRasa, sender: str
) -> None:
    settings = dataclasses.replace(SETTINGS, api_keys=KEYS)
    async with gateway_from(fake_rasa, "198.51.100.4", settings) as client:
        await client.post(
            "/api/messages",
            json={"sender_id": sender, "text": "hi"},
            headers={"Authorization": f"Bearer {SHOP_KEY}"},
        )
    async with gateway_from(fake_rasa, "127.0.0.1") as local:
        await post(local, {"sender_id": sender, "text": "hi"})

    assert [m.sender_id for m in fake_rasa.received] == [
        f"rest:shop:{path_safe(sender)}",
        f"rest:local:{path_safe(sender)}",
    ]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"text": "hi"}, "sender_id is required"),
        ({"sender_id": "", "text": "hi"}, "sender_id must not be empty"),
        ({"sender_id": 7, "text": "hi"}, "sender_id must be a string, got number"),
        ({"sender_id": "u" * 129, "text": "hi"}, "sender_id is longer than 128 characters (129)"),
        ({"sender_id": "u\x00", "text": "hi"}, "sender_id must not contain control characters"),
        ({"sender_id": "u-1"}, "text is required"),
        ({"sender_id": "u-1", "text": 42}, "text must be a string, got number"),
        ({"sender_id": "u-1", "text": ["hi"]}, "text must be a string, got array"),
        ({"sender_id": "u-1", "text": "a" * 2001}, "text is longer than 2000 characters (2001)"),
        ({"sender_id": "u-1", "text": "é" * 2417}, "text is longer than 2000 characters (2417)"),
        ({"sender_id": "u-1", "text": ""}, "text must not be empty"),
        ({"sender_id": "u-1", "text": " \n\t\x00\x07 "}, "text must not be empty"),
        ({"sender_id": "u-1", "text": "\ud800"}, "text contains invalid unicode"),
        ({"sender_id": "u-1", "text": "hi", "metadata": [1]}, "metadata must be an object"),
        (b"not json", "body must be a JSON object"),
        (b"", "body must be a JSON object"),
        (b"\xff\xfe\x00garbage", "body must be a JSON object"),
        (b'{"sender_id": "u-1", "text": NaN}', "body must be a JSON object"),
        (b"[" * 10_000 + b"]" * 10_000, "body must be a JSON object"),
        ([{"sender_id": "u-1", "text": "hi"}], "body must be a JSON object, got array"),
        ("hello", "body must be a JSON object, got string"),
        (None, "body must be a JSON object, got null"),
    ],
    ids=[
        "missing-sender_id",
        "empty-sender_id",
        "non-string-sender_id",
        "sender_id-129-chars",
        "sender_id-control-char",
        "missing-text",
        "non-string-text",
        "array-text",
        "text-2001-chars",
        "text-2417-two-byte-chars",
        "empty-text",
        "text-empty-after-stripping",
        "lone-surrogate",
        "metadata-not-object",
        "non-json-body",
        "empty-body",
        "undecodable-bytes",
        "nan-literal",
        "deeply-nested-json",
        "json-array-body",
        "json-string-body",
        "json-null-body",
    ],
)
async def test_invalid_input_is_rejected_with_the_reason(
    client: httpx.AsyncClient, fake_rasa: FakeRasa, body: object, reason: str
) -> None:
    status, answer = await post(client, body)

    assert status == 400
    assert answer["error"].startswith(reason)
    assert fake_rasa.received == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 2000, "a" * 2000),
        ("line one\r\nline two\ttabbed", "line one\nline two\ttabbed"),
        ("in\x00voice\x1b[31m 12\x7f", "invoice[31m 12"),
        ("abc\u202edef", "abc\u202edef"),
        ("stock\u200bcheck", "stock\u200bcheck"),
        ("ship 📦 to 👩‍👩‍👧", "ship 📦 to 👩‍👩‍👧"),
        ("Cafe\u0301", "Caf\u00e9"),
        ("e\u0301" * 2000, "\u00e9" * 2000),
        ("  padded  ", "padded"),
    ],
    ids=[
        "exactly-2000-chars",
        "crlf-and-tab-kept",
        "control-chars-stripped",
        "rtl-override",
        "zero-width-space",
        "emoji-and-zwj-sequence",
        "combining-accent-nfc",
        "4000-code-points-nfc-to-2000",
        "outer-whitespace-stripped",
    ],
)
async def test_accepted_text_reaches_rasa_cleaned(
    client: httpx.AsyncClient, fake_rasa: FakeRasa, text: str, expected: str
) -> None:
    status, _ = await post(client, {"sender_id": "u-1", "text": text})

    assert status == 200
    [sent] = fake_rasa.received
    assert sent.text == expected
    assert unicodedata.is_normalized("NFC", sent.text)


async def test_pending_messages_of_other_conversations_are_neither_shown_nor_taken(
    fake_rasa: FakeRasa,
) -> None:
    app = create_app(
        SETTINGS, db_check=lambda: True, rasa_client=fake_rasa, transport=actions_transport()
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c,
    ):
        delivery = app.state.handoff_queue.delivery
        for conversation, channel in [
            ("web:abc", "web"),
            ("rest:other:x", "rest"),
            ("rest:local:x", "rest"),
        ]:
            await delivery.send(conversation, channel, [OutgoingMessage(text=f"to {conversation}")])

        stolen = [
            (await c.get(f"/api/messages/{sender}/pending")).json()["messages"]
            for sender in ("web:abc", "rest:other:x", "..%2Fweb:abc")
        ]
        own = (await c.get("/api/messages/x/pending")).json()["messages"]

        assert stolen == [[], [], []]
        assert [m["text"] for m in own] == ["to rest:local:x"]
        assert await delivery.pending("web:abc") == await delivery.pending("rest:other:x") == 1


async def test_oversized_body_is_rejected_before_parsing(client: httpx.AsyncClient) -> None:
    body = b'{"sender_id": "u-1", "text": "' + b"a" * MAX_BODY_BYTES + b'"}'

    status, answer = await post(client, body)

    assert status == 413
    assert answer == {"error": f"body is larger than {MAX_BODY_BYTES} bytes"}


async def test_oversized_chunked_body_without_content_length_is_rejected(
    client: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x" * 1024

    response = await client.post("/api/messages", content=chunks())

    assert "content-length" not in response.request.headers
    assert response.status_code == 413


async def test_rasa_down_gives_503_with_a_clear_error_and_logs_it(
    client: httpx.AsyncClient, fake_rasa: FakeRasa, caplog: pytest.LogCaptureFixture
) -> None:
    fake_rasa.up = False

    with caplog.at_level(logging.ERROR, logger="connectors"):
        status, answer = await post(client, {"sender_id": "u-1", "text": "hi"})

    assert status == 503
    assert answer == {"error": UNAVAILABLE_MESSAGE}
    assert "Rasa unavailable" in caplog.text


async def test_turn_is_logged_with_sender_and_length_but_no_personal_data(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    text = "invoice to jo@example.com, call +44 20 7946 0958"

    with caplog.at_level(logging.DEBUG, logger="connectors"):
        await post(client, {"sender_id": "jo@example.com", "text": text})

    [turn] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("turn channel")]
    tag = conversation_tag("rest:local:jo@example.com")
    assert turn.startswith(f"turn channel=rest conversation={tag} chars={len(text)} replies=1 ")
    assert "jo@example.com" not in caplog.text
    assert "7946" not in caplog.text and "invoice to" not in caplog.text


async def test_over_the_rate_limit_gets_429_with_retry_after(
    make_client: MakeClient, fake_rasa: FakeRasa
) -> None:
    client = await make_client(
        settings=dataclasses.replace(SETTINGS, rate_limit_burst=2, rate_limit_per_minute=6)
    )

    statuses = [(await post(client, {"sender_id": "u-1", "text": "hi"}))[0] for _ in range(3)]
    # A new sender id is a new conversation of the same client: no new budget.
    other, _ = await post(client, {"sender_id": "u-2", "text": "hi"})
    response = await client.post("/api/messages", json={"sender_id": "u-1", "text": "hi"})

    assert statuses == [200, 200, 429]
    assert other == 429
    assert response.headers["retry-after"] == "10"
    assert response.json() == {"error": "too many messages from this client, retry in 10 s"}
    assert len(fake_rasa.received) == 2


async def test_each_api_key_has_its_own_rate_budget(fake_rasa: FakeRasa) -> None:
    settings = dataclasses.replace(
        SETTINGS, api_keys=KEYS, rate_limit_burst=1, rate_limit_per_minute=1
    )
    async with gateway_from(fake_rasa, "198.51.100.4", settings) as client:

        async def say(key: str, sender: str) -> int:
            response = await client.post(
                "/api/messages",
                json={"sender_id": sender, "text": "hi"},
                headers={"Authorization": f"Bearer {key}"},
            )
            return response.status_code

        statuses = [
            await say(SHOP_KEY, "a"),
            await say(SHOP_KEY, "b"),
            await say(KEYS[1].secret, "a"),
        ]

    assert statuses == [200, 429, 200]


async def test_client_metadata_cannot_claim_the_staff_role(
    client: httpx.AsyncClient, fake_rasa: FakeRasa
) -> None:
    await post(client, {"sender_id": "u-1", "text": "hi", "metadata": {"role": "staff"}})

    assert fake_rasa.received[0].staff is False


async def test_cited_documents_are_served_under_docs(make_client: MakeClient, tmp_path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "returns.pdf").write_bytes(b"%PDF-1.4 returns")
    client = await make_client(settings=dataclasses.replace(SETTINGS, docs_dir=str(tmp_path)))
    response = await client.get("/docs/policies/returns.pdf")
    assert response.status_code == 200 and response.content == b"%PDF-1.4 returns"
    assert (await client.get("/docs/../pyproject.toml")).status_code == 404
