"""Answer drafts on Telegram and Slack: one message edited as the answer grows, then edited
into the final answer, against the fake Bot API and Web API that record every call."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest
from starlette.applications import Starlette

from benchmarks.fake_platforms import Call, FakePlatforms
from connectors.gateway import create_app
from connectors.messages import Button, IncomingMessage, OutgoingMessage
from connectors.settings import SlackSettings, TelegramSettings
from connectors.streaming import STREAM_PATH
from tests.connectors.fakes import SETTINGS, FakeRasa, actions_transport
from tests.connectors.test_slack import SIGNING_SECRET, signed
from tests.connectors.test_telegram import SECRET, TOKEN, post_update

INTERNAL_TOKEN = "per-run-secret"
AUTH = {"Authorization": f"Bearer {INTERNAL_TOKEN}"}
CHAT = "1111111"
TELEGRAM = f"telegram:{CHAT}"
# A mention in channel C123ABC456: that person's own conversation in the channel.
SLACK = "slack:T0001:C123ABC456:U061F7AUR"
FIRST = "We refund returns."
SECOND = "We refund returns. Refunds take 5 working days."
FINAL = "We refund returns. Refunds take 5 working days from receipt."
PERSON = Button("Talk to a person", "/request_human")


class DraftingRasa(FakeRasa):
    """A FakeRasa that runs ``during`` before answering: there the test posts drafts to the
    gateway, as the document action does while Rasa waits for it."""

    def __init__(self) -> None:
        super().__init__([OutgoingMessage(text=FINAL)])
        self.during: Callable[[str], Awaitable[None]] | None = None

    async def send(self, message: IncomingMessage) -> list[OutgoingMessage]:
        if self.during is not None:
            await self.during(message.sender_id)
        return await super().send(message)


@pytest.fixture
def rasa() -> DraftingRasa:
    return DraftingRasa()


@pytest.fixture
async def gateway(
    platforms: FakePlatforms, platforms_url: str, rasa: DraftingRasa
) -> AsyncIterator[tuple[httpx.AsyncClient, Starlette]]:
    """The gateway with Telegram, Slack and drafts on; drafts edited at most every 0.2 s."""
    settings = dataclasses.replace(
        SETTINGS,
        internal_token=INTERNAL_TOKEN,
        telegram=TelegramSettings(bot_token=TOKEN, webhook_secret=SECRET, api_url=platforms_url),
        slack=SlackSettings(
            bot_token="xoxb-test",
            signing_secret=SIGNING_SECRET,
            api_url=platforms_url + "/slack-api/",
        ),
    )
    app = create_app(
        settings, db_check=lambda: True, rasa_client=rasa, transport=actions_transport()
    )
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw.test")
        )
        with anyio.fail_after(10):
            await app.state.telegram.ready.wait()
        app.state.telegram.drafts.interval = app.state.slack.drafts.interval = 0.2
        yield client, app


async def draft(client: httpx.AsyncClient, conversation_id: str, text: str) -> None:
    response = await client.post(
        STREAM_PATH, json={"conversation_id": conversation_id, "text": text}, headers=AUTH
    )
    assert response.status_code == 204


async def recorded(platforms: FakePlatforms, method: str, count: int) -> list[Call]:
    """Wait, off the event loop the gateway runs on, until ``method`` was called ``count`` times."""

    def enough(calls: list[Call]) -> bool:
        return sum(call.method == method for call in calls) >= count

    await anyio.to_thread.run_sync(lambda: platforms.wait_for(enough, timeout=5))
    return platforms.of(method)


def user_message(update_id: int, text: str = "what is the refund policy?") -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id, "date": 1700000000, "text": text,
            "chat": {"id": int(CHAT), "type": "private"},
            "from": {"id": int(CHAT), "is_bot": False, "first_name": "Ann"},
        },
    }  # fmt: skip


def texts(calls: list[Call]) -> list[str]:
    return [call.params["text"] for call in calls]


async def test_telegram_drafts_are_one_message_that_the_answer_replaces(
    gateway: tuple[httpx.AsyncClient, Starlette], platforms: FakePlatforms, rasa: DraftingRasa
) -> None:
    client, _ = gateway
    rasa.replies = [
        OutgoingMessage(text=FINAL, buttons=[PERSON]),
        OutgoingMessage(text="Anything else?"),
    ]

    async def during(conversation_id: str) -> None:
        await draft(client, conversation_id, FIRST)
        await recorded(platforms, "sendMessage", 1)
        await draft(client, conversation_id, SECOND)
        await recorded(platforms, "editMessageText", 1)

    rasa.during = during
    response = await post_update(client, user_message(1))

    assert response.status_code == 200
    sends, edits = platforms.of("sendMessage"), platforms.of("editMessageText")
    assert texts(sends) == [f"{FIRST} …", "Anything else?"]
    assert texts(edits) == [f"{SECOND} …", FINAL]
    assert {call.params["message_id"] for call in edits} == {edits[0].params["message_id"]}
    assert edits[-1].params["reply_markup"] == {
        "inline_keyboard": [[{"text": PERSON.title, "callback_data": "p:/request_human"}]]
    }


async def test_telegram_drafts_in_quick_succession_are_merged_into_the_newest(
    gateway: tuple[httpx.AsyncClient, Starlette], platforms: FakePlatforms, rasa: DraftingRasa
) -> None:
    client, app = gateway
    app.state.telegram.drafts.interval = 1.0
    growing = ["We", "We refund", "We refund returns", "We refund returns within 5 days."]

    async def during(conversation_id: str) -> None:
        await draft(client, conversation_id, growing[0])
        await recorded(platforms, "sendMessage", 1)
        for text in growing[1:]:
            await draft(client, conversation_id, text)
        await recorded(platforms, "editMessageText", 1)

    rasa.during = during
    await post_update(client, user_message(2))

    [send] = platforms.of("sendMessage")
    first_edit, final_edit = platforms.of("editMessageText")
    assert send.params["text"] == "We …"
    assert first_edit.params["text"] == "We refund returns within 5 days. …"
    assert first_edit.at - send.at >= 0.9
    assert final_edit.params["text"] == FINAL


async def test_an_edit_that_changes_nothing_is_not_a_failure(
    gateway: tuple[httpx.AsyncClient, Starlette],
    platforms: FakePlatforms,
    rasa: DraftingRasa,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, _ = gateway

    async def during(conversation_id: str) -> None:
        await draft(client, conversation_id, FIRST)
        await recorded(platforms, "sendMessage", 1)
        # Shown the same once the trailing spaces are trimmed: Telegram answers 400.
        await draft(client, conversation_id, FIRST + "   ")
        await recorded(platforms, "editMessageText", 1)
        await draft(client, conversation_id, SECOND)
        await recorded(platforms, "editMessageText", 2)

    rasa.during = during
    with caplog.at_level(logging.WARNING, logger="connectors"):
        await post_update(client, user_message(3))

    assert texts(platforms.of("sendMessage")) == [f"{FIRST} …"]
    assert texts(platforms.of("editMessageText")) == [f"{FIRST} …", f"{SECOND} …", FINAL]
    assert "editMessageText" not in caplog.text


async def test_when_the_draft_cannot_be_edited_the_answer_is_sent_as_a_new_message(
    gateway: tuple[httpx.AsyncClient, Starlette], platforms: FakePlatforms, rasa: DraftingRasa
) -> None:
    client, _ = gateway

    async def during(conversation_id: str) -> None:
        await draft(client, conversation_id, FIRST)
        await recorded(platforms, "sendMessage", 1)
        platforms.fail(
            "editMessageText", status=400, description="Bad Request: message to edit not found"
        )

    rasa.during = during
    await post_update(client, user_message(4))

    assert texts(platforms.of("editMessageText")) == [FINAL]
    assert texts(platforms.of("sendMessage")) == [f"{FIRST} …", FINAL]


async def test_the_next_turn_starts_a_new_draft_and_late_drafts_are_dropped(
    gateway: tuple[httpx.AsyncClient, Starlette], platforms: FakePlatforms, rasa: DraftingRasa
) -> None:
    client, app = gateway
    sent_before = 0

    async def during(conversation_id: str) -> None:
        await draft(client, conversation_id, FIRST)
        await recorded(platforms, "sendMessage", sent_before + 1)

    rasa.during = during
    await post_update(client, user_message(5))
    await draft(client, TELEGRAM, "a late draft of the answered turn")
    late_shown = await app.state.telegram.show_draft(TELEGRAM, "another late draft")
    sent_before = 1
    await post_update(client, user_message(6, "and exchanges?"))

    assert late_shown is False
    assert app.state.telegram.drafts.tracked() == 0
    first, second = platforms.of("sendMessage")
    assert texts([first, second]) == [f"{FIRST} …", f"{FIRST} …"]
    edits = platforms.of("editMessageText")
    assert texts(edits) == [FINAL, FINAL]
    assert edits[0].params["message_id"] != edits[1].params["message_id"]


def mention(event_id: str) -> dict[str, Any]:
    event = {
        "type": "app_mention", "user": "U061F7AUR", "text": "<@U0LAN0Z89> refund policy?",
        "ts": "1515449522.000016", "channel": "C123ABC456", "event_ts": "1515449522000016",
    }  # fmt: skip
    return {"type": "event_callback", "team_id": "T0001", "event_id": event_id, "event": event}


async def post_mention(client: httpx.AsyncClient, app: Starlette, event_id: str) -> None:
    body = json.dumps(mention(event_id)).encode()
    headers = {"Content-Type": "application/json", **signed(body)}
    assert (await client.post("/slack/events", content=body, headers=headers)).status_code == 200
    await app.state.slack.drain()


async def test_slack_drafts_are_posted_in_the_thread_updated_and_replaced_by_the_answer(
    gateway: tuple[httpx.AsyncClient, Starlette], platforms: FakePlatforms, rasa: DraftingRasa
) -> None:
    client, app = gateway
    rasa.replies = [OutgoingMessage(text=FINAL, buttons=[PERSON])]

    async def during(conversation_id: str) -> None:
        assert conversation_id == SLACK
        await draft(client, conversation_id, FIRST)
        await recorded(platforms, "chat.postMessage", 1)
        await draft(client, conversation_id, SECOND)
        await recorded(platforms, "chat.update", 1)

    rasa.during = during
    await post_mention(client, app, "EvDRAFT1")

    [post] = platforms.of("chat.postMessage")
    assert (post.params["text"], post.params["thread_ts"]) == (f"{FIRST} …", "1515449522.000016")
    updates = platforms.of("chat.update")
    assert texts(updates) == [f"{SECOND} …", FINAL]
    assert {(u.params["channel"], u.params["ts"]) for u in updates} == {
        ("C123ABC456", updates[0].params["ts"])
    }
    assert [block["type"] for block in updates[-1].params["blocks"]] == ["section", "actions"]


async def test_slack_answer_is_posted_when_its_draft_cannot_be_updated(
    gateway: tuple[httpx.AsyncClient, Starlette], platforms: FakePlatforms, rasa: DraftingRasa
) -> None:
    client, app = gateway

    async def during(conversation_id: str) -> None:
        await draft(client, conversation_id, FIRST)
        await recorded(platforms, "chat.postMessage", 1)
        platforms.fail("chat.update", status=200, description="message_not_found")

    rasa.during = during
    await post_mention(client, app, "EvDRAFT2")

    assert texts(platforms.of("chat.update")) == [FINAL]
    assert texts(platforms.of("chat.postMessage")) == [f"{FIRST} …", FINAL]


@pytest.mark.parametrize(
    "conversation_id",
    [TELEGRAM, SLACK, "telegram:not-a-chat", "sms:+15550100", "rest-client-7"],
    ids=["telegram-idle", "slack-idle", "telegram-malformed", "unknown-channel", "rest"],
)
async def test_drafts_with_no_turn_being_answered_are_dropped(
    gateway: tuple[httpx.AsyncClient, Starlette], platforms: FakePlatforms, conversation_id: str
) -> None:
    client, _ = gateway
    platforms.calls.clear()

    await draft(client, conversation_id, FIRST)
    await anyio.sleep(0.3)

    assert platforms.calls == []
