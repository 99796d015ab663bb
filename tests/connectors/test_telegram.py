"""The Telegram channel: Telegram's published sample updates replayed against the webhook,
with every Bot API call going to a local fake that records it."""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from telegram import Update

from benchmarks.fake_platforms import FakePlatforms
from connectors.channels import telegram as telegram_channel
from connectors.channels.telegram import (
    ANONYMOUS,
    CALLBACK_DATA_BYTES,
    EDITED,
    SECRET_HEADER,
    UNKNOWN_COMMAND,
    UNSUPPORTED,
    TelegramChannel,
    chat_of,
    complete_update,
)
from connectors.errors import ChannelDeliveryFailed
from connectors.gateway import create_app
from connectors.messages import Button, OutgoingMessage
from connectors.settings import TelegramSettings
from tests.connectors.fakes import SETTINGS, FakeRasa, actions_transport

PAYLOADS = (
    Path(
        os.environ.get("CHANNEL_PAYLOADS_DIR")
        or Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "channel_payloads"
    )
    / "telegram"
)
SECRET = "test-secret_123"
TOKEN = "123456:TEST-token"
CHAT = "1111111"
UPDATE_IDS = itertools.count(10_000)

MakeGateway = Callable[..., Awaitable[tuple[httpx.AsyncClient, Starlette]]]


def sample(name: str) -> dict[str, Any]:
    """A published sample update, as a new update: the samples all carry update_id 10000, and
    the gateway answers each update id once."""
    if not PAYLOADS.is_dir():
        message = f"Telegram sample updates not found in {PAYLOADS} (set CHANNEL_PAYLOADS_DIR)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    update: dict[str, Any] = json.loads((PAYLOADS / name).read_text())
    update["update_id"] = next(UPDATE_IDS)
    return update


@pytest.fixture
async def make_gateway(
    platforms: FakePlatforms, platforms_url: str, fake_rasa: FakeRasa
) -> AsyncIterator[MakeGateway]:
    async with AsyncExitStack() as stack:

        async def make(**telegram: Any) -> tuple[httpx.AsyncClient, Starlette]:
            options = {"bot_token": TOKEN, "webhook_secret": SECRET, "api_url": platforms_url}
            settings = dataclasses.replace(
                SETTINGS, telegram=TelegramSettings(**{**options, **telegram})
            )
            app = create_app(
                settings,
                db_check=lambda: True,
                rasa_client=fake_rasa,
                transport=actions_transport(),
            )
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw.test")
            )
            return client, app

        yield make


@pytest.fixture
async def gateway(make_gateway: MakeGateway) -> httpx.AsyncClient:
    client, app = await make_gateway()
    with anyio.fail_after(10):
        await app.state.telegram.ready.wait()
    return client


async def post_update(
    client: httpx.AsyncClient, update: dict[str, Any], *, secret: str | None = SECRET
) -> httpx.Response:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    return await client.post("/telegram/webhook", json=update, headers=headers)


def sent(platforms: FakePlatforms, method: str = "sendMessage") -> list[dict[str, Any]]:
    return [call.params for call in platforms.of(method)]


@pytest.mark.parametrize(
    "name",
    [
        "01_message_text_basic.json",
        "02_message_text.json",
        "03_forwarded_message.json",
        "04_forwarded_channel_message.json",
        "05_message_with_reply.json",
    ],
    ids=["basic", "private-chat", "forwarded", "forwarded-from-channel", "reply"],
)
async def test_start_command_greets_through_rasa(
    gateway: httpx.AsyncClient, platforms: FakePlatforms, fake_rasa: FakeRasa, name: str
) -> None:
    fake_rasa.replies = [OutgoingMessage(text="Hi! I can check an order.")]

    response = await post_update(gateway, sample(name))

    assert response.status_code == 200
    [message] = fake_rasa.received
    assert (message.sender_id, message.channel, message.text) == (
        f"telegram:{CHAT}",
        "telegram",
        "/greet",
    )
    assert sent(platforms) == [{"chat_id": CHAT, "text": "Hi! I can check an order."}]
    assert sent(platforms, "sendChatAction") == [{"chat_id": CHAT, "action": "typing"}]


async def test_text_with_entities_reaches_rasa_as_plain_text(
    gateway: httpx.AsyncClient, platforms: FakePlatforms, fake_rasa: FakeRasa
) -> None:
    response = await post_update(gateway, sample("07_message_with_entities.json"))

    assert response.status_code == 200
    assert [m.text for m in fake_rasa.received] == ["Bold and italics"]
    assert sent(platforms) == [{"chat_id": CHAT, "text": "hello"}]


@pytest.mark.parametrize(
    ("name", "reply"),
    [
        ("06_edited_message.json", EDITED),
        ("08_message_with_audio.json", UNSUPPORTED["voice"]),
        ("09_voice_message.json", UNSUPPORTED["voice"]),
        ("10_message_with_document.json", UNSUPPORTED["document"]),
    ],
    ids=["edited", "audio", "voice", "document"],
)
async def test_edits_voice_and_files_get_a_polite_reply_without_rasa(
    gateway: httpx.AsyncClient,
    platforms: FakePlatforms,
    fake_rasa: FakeRasa,
    name: str,
    reply: str,
) -> None:
    response = await post_update(gateway, sample(name))

    assert response.status_code == 200
    assert sent(platforms) == [{"chat_id": CHAT, "text": reply}]
    assert fake_rasa.received == []


async def test_sticker_gets_a_polite_reply(
    gateway: httpx.AsyncClient, platforms: FakePlatforms
) -> None:
    update = sample("02_message_text.json")
    del update["message"]["text"]
    update["message"]["sticker"] = {
        "file_id": "CAAD", "file_unique_id": "u1", "width": 512, "height": 512,
        "is_animated": False, "is_video": False, "type": "regular",
    }  # fmt: skip

    response = await post_update(gateway, update)

    assert response.status_code == 200
    assert sent(platforms) == [{"chat_id": CHAT, "text": UNSUPPORTED["sticker"]}]


async def test_inline_query_is_answered_with_no_results(
    gateway: httpx.AsyncClient, platforms: FakePlatforms, fake_rasa: FakeRasa
) -> None:
    response = await post_update(gateway, sample("11_inline_query.json"))

    assert response.status_code == 200
    [answer] = sent(platforms, "answerInlineQuery")
    assert answer["inline_query_id"] == "134567890097"
    assert answer["results"] == []
    assert fake_rasa.received == []


async def test_chosen_inline_result_is_accepted_and_ignored(
    gateway: httpx.AsyncClient, platforms: FakePlatforms, fake_rasa: FakeRasa
) -> None:
    response = await post_update(gateway, sample("12_chosen_inline_result.json"))

    assert response.status_code == 200
    assert sent(platforms) == [] and fake_rasa.received == []


async def test_callback_query_is_answered_and_its_data_sent_to_rasa(
    gateway: httpx.AsyncClient, platforms: FakePlatforms, fake_rasa: FakeRasa
) -> None:
    response = await post_update(gateway, sample("13_callback_query.json"))

    assert response.status_code == 200
    assert sent(platforms, "answerCallbackQuery") == [{"callback_query_id": "4382bfdwdsb323b2d9"}]
    assert [(m.sender_id, m.text) for m in fake_rasa.received] == [
        (f"telegram:{CHAT}", "Data from button callback")
    ]
    assert sent(platforms) == [{"chat_id": CHAT, "text": "hello"}]


GROUP = "-1001234567890"


def in_group(update: dict[str, Any], user_id: int, *, chat_type: str = "supergroup") -> dict:
    """A sample update moved into a group chat, sent by ``user_id``."""
    message = update["message"]
    message["chat"] = {"id": int(GROUP), "type": chat_type, "title": "Northbridge buyers"}
    message["from"] = {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
    return update


async def test_private_chat_is_one_conversation_with_the_user_as_client(
    gateway: httpx.AsyncClient, fake_rasa: FakeRasa
) -> None:
    await post_update(gateway, sample("02_message_text.json"))

    [message] = fake_rasa.received
    assert (message.sender_id, message.client, message.group) == (
        f"telegram:{CHAT}",
        f"telegram:user:{CHAT}",
        False,
    )


@pytest.mark.parametrize("chat_type", ["group", "supergroup"])
async def test_each_person_in_a_group_has_their_own_conversation(
    gateway: httpx.AsyncClient, platforms: FakePlatforms, fake_rasa: FakeRasa, chat_type: str
) -> None:
    for user_id in (111, 222):
        await post_update(gateway, in_group(sample("02_message_text.json"), user_id,
                                            chat_type=chat_type))  # fmt: skip

    assert [(m.sender_id, m.client, m.group) for m in fake_rasa.received] == [
        (f"telegram:{GROUP}:111", "telegram:user:111", True),
        (f"telegram:{GROUP}:222", "telegram:user:222", True),
    ]
    assert [m.metadata["telegram"]["chat_type"] for m in fake_rasa.received] == [chat_type] * 2
    assert [p["chat_id"] for p in sent(platforms)] == [GROUP, GROUP]


async def test_a_button_click_in_a_group_is_the_clickers_own(
    gateway: httpx.AsyncClient, fake_rasa: FakeRasa
) -> None:
    click = sample("13_callback_query.json")
    click["callback_query"]["from"] = {"id": 333, "is_bot": False, "first_name": "Clicker"}
    click["callback_query"]["message"] = {
        "message_id": 9, "date": 1441645532, "text": "Which order?",
        "chat": {"id": int(GROUP), "type": "supergroup", "title": "Northbridge buyers"},
    }  # fmt: skip

    await post_update(gateway, click)

    [message] = fake_rasa.received
    assert (message.sender_id, message.group) == (f"telegram:{GROUP}:333", True)


async def test_posts_made_as_the_group_are_not_answered_as_anyone(
    gateway: httpx.AsyncClient, platforms: FakePlatforms, fake_rasa: FakeRasa
) -> None:
    update = in_group(sample("02_message_text.json"), 1087968824)  # GroupAnonymousBot
    update["message"]["sender_chat"] = {"id": int(GROUP), "type": "supergroup", "title": "x"}

    await post_update(gateway, update)

    assert fake_rasa.received == []
    assert sent(platforms) == [{"chat_id": GROUP, "text": ANONYMOUS}]


async def test_channel_posts_are_ignored(
    gateway: httpx.AsyncClient, platforms: FakePlatforms, fake_rasa: FakeRasa
) -> None:
    post = sample("02_message_text.json")["message"]
    post["chat"] = {"id": -1009, "type": "channel", "title": "News"}
    del post["from"]

    response = await post_update(gateway, {"update_id": 7, "channel_post": post})

    assert response.status_code == 200
    assert fake_rasa.received == [] and sent(platforms) == []


async def test_agent_replies_reach_the_group_of_a_per_person_conversation(
    make_gateway: MakeGateway, platforms: FakePlatforms
) -> None:
    _, app = await make_gateway()
    with anyio.fail_after(10):
        await app.state.telegram.ready.wait()

    await app.state.telegram.push(f"telegram:{GROUP}:111", [OutgoingMessage(text="Alice here")])
    await app.state.telegram.push(f"telegram:{CHAT}", [OutgoingMessage(text="Bob here")])

    assert sent(platforms) == [
        {"chat_id": GROUP, "text": "Alice here"},
        {"chat_id": CHAT, "text": "Bob here"},
    ]
    for bad in ("telegram:", "telegram:1:2:3", "telegram:1_000", "telegram: 1", "slack:T:U"):
        with pytest.raises(ChannelDeliveryFailed):
            await app.state.telegram.push(bad, [OutgoingMessage(text="x")])


def test_conversation_ids_name_their_chat() -> None:
    assert chat_of(f"telegram:{GROUP}:111") == int(GROUP)
    assert chat_of("telegram:42") == 42
    assert chat_of("telegram:+42") is None and chat_of("rest:local:telegram:42") is None


@pytest.mark.parametrize(
    "secret", [None, "wrong", SECRET + "x", ""], ids=["missing", "wrong", "longer", "empty"]
)
async def test_forged_update_gets_403_and_is_not_processed(
    gateway: httpx.AsyncClient,
    platforms: FakePlatforms,
    fake_rasa: FakeRasa,
    secret: str | None,
) -> None:
    response = await post_update(gateway, sample("02_message_text.json"), secret=secret)

    assert response.status_code == 403
    assert fake_rasa.received == []
    assert [c.method for c in platforms.calls if c.method != "getMe"] == []


# /human escalates in the gateway without asking Rasa: tests/connectors/test_handoff_channels.py.
async def test_an_update_telegram_delivers_twice_is_answered_once(
    gateway: httpx.AsyncClient,
    platforms: FakePlatforms,
    fake_rasa: FakeRasa,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_rasa.replies = [OutgoingMessage(text="Hi! I can check an order.")]
    update = sample("02_message_text.json")

    with caplog.at_level(logging.INFO, logger="connectors"):
        first = await post_update(gateway, update)
        again = await post_update(gateway, update)  # the webhook call timed out: a retry
        other = await post_update(gateway, sample("02_message_text.json"))

    assert first.status_code == again.status_code == other.status_code == 200
    assert len(fake_rasa.received) == 2  # the first and the other, not the retry
    assert len(sent(platforms)) == 2
    assert f"telegram update {update['update_id']} already taken" in caplog.text


async def test_replicas_sharing_a_database_answer_an_update_once(
    gateway_db: str,
    platforms: FakePlatforms,
    platforms_url: str,
    fake_rasa: FakeRasa,
) -> None:
    telegram = TelegramSettings(bot_token=TOKEN, webhook_secret=SECRET, api_url=platforms_url)
    settings = dataclasses.replace(SETTINGS, gateway_db=gateway_db, telegram=telegram)
    update = sample("02_message_text.json")
    async with AsyncExitStack() as stack:
        replicas = []
        for _ in range(2):
            app = create_app(settings, db_check=lambda: True, rasa_client=fake_rasa,
                             transport=actions_transport())  # fmt: skip
            await stack.enter_async_context(app.router.lifespan_context(app))
            with anyio.fail_after(10):
                await app.state.telegram.ready.wait()
            replicas.append(
                await stack.enter_async_context(
                    httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=app), base_url="http://gw.test"
                    )
                )
            )

        # A replica is killed mid-turn; Telegram redelivers the update to the other one.
        responses = [await post_update(replica, update) for replica in replicas]

        store = app.state.telegram.turns.store
        claimed = await store._run(
            store._query, "SELECT event_id FROM processed_events WHERE event_id LIKE ?",
            ("telegram:%",),
        )  # fmt: skip

    assert [r.status_code for r in responses] == [200, 200]
    assert len(fake_rasa.received) == 1
    assert len(sent(platforms)) == 1
    assert claimed == [(f"telegram:{TOKEN.split(':')[0]}:{update['update_id']}",)]


async def test_a_polled_update_seen_before_is_not_answered_again(
    make_gateway: MakeGateway, fake_rasa: FakeRasa
) -> None:
    _, app = await make_gateway(mode="polling", webhook_secret="")
    channel: TelegramChannel = app.state.telegram
    with anyio.fail_after(10):
        await channel.ready.wait()
    first, then = sample("02_message_text.json"), sample("02_message_text.json")
    then["message"]["text"] = "and my invoices?"

    # What the poller hands over; a poller restarted before confirming fetches it again.
    for data in (first, first, then):
        await channel.app.update_queue.put(Update.de_json(complete_update(data), channel.bot))
    with anyio.fail_after(10):
        while len(fake_rasa.received) < 2 or not channel.app.update_queue.empty():
            await anyio.sleep(0.02)

    assert [m.text for m in fake_rasa.received] == ["/greet", "and my invoices?"]


@pytest.mark.parametrize(
    ("text", "intent"),
    [("/help", "/help"), ("/start@nb_erp_bot", "/greet")],
    ids=["help", "start-addressed-to-bot"],
)
async def test_commands_map_to_intents(
    gateway: httpx.AsyncClient, fake_rasa: FakeRasa, text: str, intent: str
) -> None:
    update = sample("02_message_text.json")
    update["message"]["text"] = text
    update["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]

    await post_update(gateway, update)

    assert [m.text for m in fake_rasa.received] == [intent]


async def test_unknown_command_lists_the_commands_without_asking_rasa(
    gateway: httpx.AsyncClient, platforms: FakePlatforms, fake_rasa: FakeRasa
) -> None:
    update = sample("02_message_text.json")
    update["message"]["text"] = "/delete_everything"

    await post_update(gateway, update)

    assert sent(platforms) == [{"chat_id": CHAT, "text": UNKNOWN_COMMAND}]
    assert fake_rasa.received == []


async def test_buttons_become_an_inline_keyboard_and_long_payloads_a_short_key(
    gateway: httpx.AsyncClient, platforms: FakePlatforms, fake_rasa: FakeRasa
) -> None:
    long_payload = '/choose_order{"order_number": "SO-100123", "customer": "' + "x" * 80 + '"}'
    fake_rasa.replies = [
        OutgoingMessage(
            text="Which one? Details: [Returns policy](https://nb.example/returns)",
            buttons=[
                Button("Where is my order?", "/order_status"),
                Button("SO-100123", long_payload),
            ],
        )
    ]
    await post_update(gateway, sample("02_message_text.json"))

    [message] = sent(platforms)
    assert message["text"] == "Which one? Details: Returns policy (https://nb.example/returns)"
    short, long = (row[0] for row in message["reply_markup"]["inline_keyboard"])
    assert short == {"text": "Where is my order?", "callback_data": "p:/order_status"}
    assert long["text"] == "SO-100123"
    assert len(long["callback_data"].encode()) <= CALLBACK_DATA_BYTES

    click = sample("13_callback_query.json")
    click["callback_query"]["data"] = long["callback_data"]
    fake_rasa.replies = [OutgoingMessage(text="Order SO-100123 is shipped.")]
    await post_update(gateway, click)

    assert fake_rasa.received[-1].text == long_payload


async def test_image_is_sent_as_a_photo(
    gateway: httpx.AsyncClient, platforms: FakePlatforms, fake_rasa: FakeRasa
) -> None:
    fake_rasa.replies = [OutgoingMessage(image="https://nb.example/map.png")]

    await post_update(gateway, sample("02_message_text.json"))

    assert sent(platforms, "sendPhoto") == [
        {"chat_id": CHAT, "photo": "https://nb.example/map.png"}
    ]


async def test_rate_limited_send_is_retried_after_the_wait_telegram_asks_for(
    gateway: httpx.AsyncClient, platforms: FakePlatforms, caplog: pytest.LogCaptureFixture
) -> None:
    platforms.fail("sendMessage", status=429, retry_after=1)

    with caplog.at_level(logging.WARNING, logger="connectors"):
        await post_update(gateway, sample("02_message_text.json"))

    attempts = platforms.of("sendMessage")
    assert len(attempts) == 2
    assert attempts[1].at - attempts[0].at >= 0.9
    assert "retrying in 1.0 s" in caplog.text


async def test_network_errors_are_retried_with_backoff_then_logged(
    gateway: httpx.AsyncClient,
    platforms: FakePlatforms,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(telegram_channel, "BACKOFF_SECONDS", 0.1)
    platforms.fail("sendMessage", status=502, times=10)

    with caplog.at_level(logging.WARNING, logger="connectors"):
        response = await post_update(gateway, sample("02_message_text.json"))

    assert response.status_code == 200
    attempts = [c.at for c in platforms.of("sendMessage")]
    assert len(attempts) == 4
    gaps = [later - earlier for earlier, later in zip(attempts, attempts[1:], strict=False)]
    assert gaps[1] > gaps[0] and gaps[2] > gaps[1]
    assert "sendMessage failed after 4 attempt(s)" in caplog.text


async def test_failed_startup_does_not_stop_the_gateway_and_is_retried(
    make_gateway: MakeGateway, platforms: FakePlatforms, caplog: pytest.LogCaptureFixture
) -> None:
    platforms.fail("setWebhook", status=502, times=1)

    with caplog.at_level(logging.ERROR, logger="connectors"):
        client, app = await make_gateway(webhook_url="https://bot.nb.example/telegram/webhook")
        early = await post_update(client, sample("02_message_text.json"))
        health = await client.get("/healthz")
        with anyio.fail_after(10):
            await app.state.telegram.ready.wait()

    assert early.status_code == 503  # Telegram redelivers it later
    assert health.status_code == 200
    assert "telegram startup failed" in caplog.text
    [_, registered] = platforms.of("setWebhook")
    assert registered.params["url"] == "https://bot.nb.example/telegram/webhook"
    assert registered.params["secret_token"] == SECRET
    late = await post_update(client, sample("02_message_text.json"))
    assert late.status_code == 200


async def test_polling_mode_asks_telegram_for_updates(
    make_gateway: MakeGateway, platforms: FakePlatforms
) -> None:
    client, app = await make_gateway(mode="polling", webhook_secret="")
    with anyio.fail_after(10):
        await app.state.telegram.ready.wait()
        while not platforms.of("getUpdates"):
            await anyio.sleep(0.02)

    assert platforms.of("deleteWebhook")
    assert (await post_update(client, sample("02_message_text.json"))).status_code == 404


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        (TelegramSettings(), "TELEGRAM_BOT_TOKEN is not set"),
        (TelegramSettings(bot_token=TOKEN), "TELEGRAM_WEBHOOK_SECRET is not set"),
    ],
    ids=["no-token", "webhook-without-secret"],
)
async def test_channel_without_secrets_is_disabled_with_one_log_line(
    fake_rasa: FakeRasa, caplog: pytest.LogCaptureFixture, settings: TelegramSettings, reason: str
) -> None:
    app = create_app(dataclasses.replace(SETTINGS, telegram=settings), rasa_client=fake_rasa)
    with caplog.at_level(logging.INFO, logger="connectors"):
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c,
        ):
            response = await post_update(c, {"update_id": 1})
            api = await c.post("/api/messages", json={"sender_id": "u", "text": "hi"})

    lines = [
        r.getMessage() for r in caplog.records if "telegram channel disabled" in r.getMessage()
    ]
    assert len(lines) == 1 and reason in lines[0]
    assert response.status_code == 404
    assert api.status_code == 200


def test_channel_module_needs_no_network_to_build() -> None:
    channel = TelegramChannel(TelegramSettings(bot_token=TOKEN, webhook_secret=SECRET), None)  # type: ignore[arg-type]
    assert [route.path for route in channel.routes()] == ["/telegram/webhook"]


async def test_a_webhook_with_no_secret_configured_refuses_every_update() -> None:
    channel = TelegramChannel(TelegramSettings(bot_token=TOKEN, webhook_secret=""), None)  # type: ignore[arg-type]
    app = Starlette(routes=channel.routes())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gw.test"
    ) as client:
        missing = await post_update(client, sample("02_message_text.json"), secret=None)
        empty = await post_update(client, sample("02_message_text.json"), secret="")

    assert missing.status_code == empty.status_code == 403
