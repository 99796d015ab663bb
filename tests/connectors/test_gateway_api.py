"""POST /api/messages and GET / through the whole gateway app, with a fake Rasa client."""

from __future__ import annotations

import dataclasses
import json
import logging
import unicodedata
from collections.abc import AsyncIterator

import httpx
import pytest

from connectors.gateway import UNAVAILABLE_MESSAGE
from connectors.messages import Button, OutgoingMessage
from connectors.validation import MAX_BODY_BYTES
from tests.connectors.fakes import SETTINGS, FakeRasa, MakeClient


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
    assert (sent.sender_id, sent.channel, sent.text) == ("u-1", "rest", "where is my order?")


async def test_metadata_is_passed_to_rasa(client: httpx.AsyncClient, fake_rasa: FakeRasa) -> None:
    status, _ = await post(client, {"sender_id": "u-1", "text": "hi", "metadata": {"lang": "de"}})

    assert status == 200
    assert fake_rasa.received[0].metadata == {"lang": "de"}


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
    assert turn == f"turn channel=rest sender=[email] chars={len(text)} replies=1"
    assert "jo@example.com" not in caplog.text
    assert "7946" not in caplog.text


async def test_over_the_rate_limit_gets_429_with_retry_after(
    make_client: MakeClient, fake_rasa: FakeRasa
) -> None:
    client = await make_client(
        settings=dataclasses.replace(SETTINGS, rate_limit_burst=2, rate_limit_per_minute=6)
    )

    statuses = [(await post(client, {"sender_id": "u-1", "text": "hi"}))[0] for _ in range(3)]
    other, _ = await post(client, {"sender_id": "u-2", "text": "hi"})
    response = await client.post("/api/messages", json={"sender_id": "u-1", "text": "hi"})

    assert statuses == [200, 200, 429]
    assert other == 200
    assert response.headers["retry-after"] == "10"
    assert response.json() == {"error": "too many messages from this sender, retry in 10 s"}
    assert len(fake_rasa.received) == 3


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
