"""Answer drafts: accepted only with the launcher's token, shown live in the web chat."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx

from benchmarks.fake_platforms import serve
from connectors.gateway import create_app
from connectors.streaming import STREAM_PATH
from tests.connectors.fakes import SETTINGS, FakeRasa, MakeClient, actions_transport
from tests.connectors.test_web_channel import chat, start_session

TOKEN = "per-run-secret"
DRAFT = {
    "conversation_id": "web:q2Vx5P0Zt8Kx1lC3nX9yAw",
    "text": "We refund returns within 5 days.",
}


async def test_drafts_are_refused_without_the_token(make_client: MakeClient) -> None:
    client = await make_client(settings=dataclasses.replace(SETTINGS, internal_token=TOKEN))
    missing = await client.post(STREAM_PATH, json=DRAFT)
    wrong = await client.post(STREAM_PATH, json=DRAFT, headers={"Authorization": "Bearer x"})
    assert missing.status_code == wrong.status_code == 403


async def test_drafts_are_disabled_when_no_token_is_configured(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.post(STREAM_PATH, json=DRAFT, headers={"Authorization": "Bearer "})
    assert response.status_code == 404


async def test_malformed_drafts_get_a_clear_error(make_client: MakeClient) -> None:
    client = await make_client(settings=dataclasses.replace(SETTINGS, internal_token=TOKEN))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for body, reason in (
        (b"not json", "JSON"),
        (b'{"conversation_id": 5, "text": "x"}', "conversation_id"),
        (b'{"conversation_id": "web:a", "text": ""}', "text"),
        (b'{"conversation_id": "web:a", "text": "' + b"x" * 5000 + b'"}', "text"),
    ):
        response = await client.post(STREAM_PATH, content=body, headers=auth)
        assert response.status_code == 400 and reason in response.json()["error"]
    other_channel = {"conversation_id": "telegram:42", "text": "draft"}
    assert (await client.post(STREAM_PATH, json=other_channel, headers=auth)).status_code == 204


def test_the_web_chat_receives_the_draft(fake_rasa: FakeRasa, tmp_path: Path) -> None:
    settings = dataclasses.replace(
        SETTINGS, gateway_db=str(tmp_path / "gateway.db"), internal_token=TOKEN
    )
    app = create_app(
        settings, db_check=lambda: True, rasa_client=fake_rasa, transport=actions_transport()
    )
    with serve(app, lifespan=True) as url, chat(url) as client:
        session, _ = start_session(client)
        # The conversation key is the session token's first part.
        draft = {**DRAFT, "conversation_id": "web:" + session.split(".")[0]}
        response = httpx.post(
            url + STREAM_PATH, json=draft, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert response.status_code == 204
        assert client.receive(timeout=5) == ["bot_streaming", {"text": DRAFT["text"]}]
