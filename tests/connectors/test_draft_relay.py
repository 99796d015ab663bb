"""Answer drafts across gateway replicas that share Redis: a Telegram or Slack draft posted to
a replica not answering its turn reaches the one that is, in order, and the answer replaces
it; a draft no replica is answering is dropped; without Redis nothing is published; a Redis
that does not answer costs no answer; garbage on the channel is ignored; the gateway's Redis
account may relay, also after Redis dropped its connections.

Each replica is a gateway app of its own (its LiveDrafts, its Telegram and Slack channels)
against the fake Bot API and Web API. Redis at 127.0.0.1:6379 (no password), db 7, channels
and keys of a random prefix only; skipped when it is not there, failed in CI."""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest
import redis
import redis.asyncio
from starlette.applications import Starlette

from benchmarks.fake_platforms import Call, FakePlatforms
from bot.profile import Production
from bot.provision import Provisioned, redis_gateway_acl
from connectors.gateway import create_app
from connectors.settings import SlackSettings, TelegramSettings
from tests.connectors.fakes import SETTINGS
from tests.connectors.test_slack import SIGNING_SECRET
from tests.connectors.test_streaming_channels import (
    FINAL,
    INTERNAL_TOKEN,
    SLACK,
    TELEGRAM,
    DraftingRasa,
    draft,
    post_mention,
    texts,
    user_message,
)
from tests.connectors.test_telegram import SECRET, TOKEN, post_update

REDIS_DB = 7
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
GROWING = [
    "We refund returns.",
    "We refund returns. Refunds take",
    "We refund returns. Refunds take 5 working days",
    "We refund returns. Refunds take 5 working days from receipt.",
    "We refund returns. Refunds take 5 working days from receipt. Exchanges",
    "We refund returns. Refunds take 5 working days from receipt. Exchanges are free.",
]
UPDATE_IDS = itertools.count(1)


@pytest.fixture
async def admin() -> AsyncIterator[redis.asyncio.Redis]:
    """The local Redis without a password, on the tests' db."""
    client = redis.asyncio.Redis(host="127.0.0.1", port=6379, db=REDIS_DB,
                                 socket_connect_timeout=2)  # fmt: skip
    try:
        await client.ping()
    except redis.RedisError as error:
        await client.aclose()
        message = f"Redis is not reachable at 127.0.0.1:6379 for the draft relay tests: {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(admin: redis.asyncio.Redis) -> AsyncIterator[str]:
    """A prefix of this test alone (channels are shared by every db); its keys are deleted."""
    prefix = f"erpdrafts{secrets.token_hex(6)}"
    yield prefix
    async for key in admin.scan_iter(f"{prefix}:*"):
        await admin.delete(key)


@pytest.fixture
def rasa() -> DraftingRasa:
    return DraftingRasa()


@dataclasses.dataclass
class Replica:
    """One gateway app with its lifespan running, and a client that reaches it directly."""

    client: httpx.AsyncClient
    app: Starlette


Replicas = Callable[..., AbstractAsyncContextManager[list[Replica]]]


@pytest.fixture
def replicas(platforms: FakePlatforms, platforms_url: str, rasa: DraftingRasa) -> Replicas:
    """Run ``count`` gateways with Telegram, Slack and drafts on; with ``socketio_redis_url``
    they share Redis under ``rate_limit_redis_prefix``. Drafts are shown without delay."""

    @asynccontextmanager
    async def run(count: int, **overrides: Any) -> AsyncIterator[list[Replica]]:
        settings = dataclasses.replace(
            SETTINGS,
            internal_token=INTERNAL_TOKEN,
            telegram=TelegramSettings(
                bot_token=TOKEN, webhook_secret=SECRET, api_url=platforms_url
            ),
            slack=SlackSettings(
                bot_token="xoxb-test",
                signing_secret=SIGNING_SECRET,
                api_url=platforms_url + "/slack-api/",
            ),
            **overrides,
        )
        async with AsyncExitStack() as stack:
            started = []
            for _ in range(count):
                app = create_app(settings, db_check=lambda: True, rasa_client=rasa)
                await stack.enter_async_context(app.router.lifespan_context(app))
                client = await stack.enter_async_context(httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://gw.test"))  # fmt: skip
                with anyio.fail_after(10):
                    await app.state.telegram.ready.wait()
                app.state.telegram.drafts.interval = app.state.slack.drafts.interval = 0
                started.append(Replica(client, app))
            platforms.calls.clear()
            yield started

    return run


@pytest.fixture
async def observer(
    admin: redis.asyncio.Redis, prefix: str
) -> AsyncIterator[redis.asyncio.client.PubSub]:
    """A subscriber of ``<prefix>:drafts``: what the replicas publish there."""
    async with admin.pubsub() as pubsub:
        await pubsub.subscribe(f"{prefix}:drafts")
        yield pubsub


async def listening(admin: redis.asyncio.Redis, channel: str, count: int) -> None:
    """Wait until ``count`` connections subscribe to ``channel``."""
    with anyio.fail_after(10):
        while (await admin.pubsub_numsub(channel))[0][1] < count:
            await anyio.sleep(0.05)


async def heard(
    observer: redis.asyncio.client.PubSub, count: int, *, settle: float = 0.3
) -> list[Any]:
    """The payloads published on the observed channel: ``count`` of them (waited for at most
    5 s), and any that follow within ``settle`` seconds."""
    payloads: list[Any] = []
    for wait, enough in ((5.0, count), (settle, None)):
        with anyio.move_on_after(wait):
            while enough is None or len(payloads) < enough:
                message = await observer.get_message(ignore_subscribe_messages=True, timeout=0.1)
                if message is not None:
                    payloads.append(json.loads(message["data"]))
    return payloads


async def shown(platforms: FakePlatforms, methods: tuple[str, ...], text: str) -> None:
    """Wait, off the event loop the gateways run on, until a call of ``methods`` shows ``text``."""

    def done(calls: list[Call]) -> bool:
        return any(c.method in methods and c.params.get("text") == text for c in calls)

    await anyio.to_thread.run_sync(lambda: platforms.wait_for(done, timeout=5))


@dataclasses.dataclass(frozen=True)
class Chat:
    """Where a turn is answered: the platform methods posting and editing its draft."""

    conversation_id: str
    post: str
    edit: str
    target: str  # the parameter naming the edited message
    ask: Callable[[Replica], Awaitable[None]]


async def ask_on_telegram(replica: Replica) -> None:
    response = await post_update(replica.client, user_message(next(UPDATE_IDS)))
    assert response.status_code == 200


async def ask_on_slack(replica: Replica) -> None:
    await post_mention(replica.client, replica.app, f"EvRELAY{next(UPDATE_IDS)}")


TELEGRAM_CHAT = Chat(TELEGRAM, "sendMessage", "editMessageText", "message_id", ask_on_telegram)
SLACK_CHAT = Chat(SLACK, "chat.postMessage", "chat.update", "ts", ask_on_slack)


def drafts_and_answer(platforms: FakePlatforms, chat: Chat) -> tuple[list[str], list[Call]]:
    """The texts the chat's draft message showed, in order, and every edit of it."""
    [post] = platforms.of(chat.post)
    edits = platforms.of(chat.edit)
    return texts([post, *edits[:-1]]), edits


async def relayed_turn(
    a: Replica, b: Replica, chat: Chat, rasa: DraftingRasa, platforms: FakePlatforms
) -> None:
    """A turn answered on A while the action server's drafts all reach B."""

    async def during(conversation_id: str) -> None:
        assert conversation_id == chat.conversation_id
        for text in GROWING:
            await draft(b.client, conversation_id, text)
        await shown(platforms, (chat.post, chat.edit), f"{GROWING[-1]} …")

    rasa.during = during
    await chat.ask(a)


@pytest.mark.parametrize("chat", [TELEGRAM_CHAT, SLACK_CHAT], ids=["telegram", "slack"])
async def test_drafts_posted_to_another_replica_grow_the_message_in_order(
    replicas: Replicas, prefix: str, admin: redis.asyncio.Redis,
    observer: redis.asyncio.client.PubSub, platforms: FakePlatforms, rasa: DraftingRasa,
    chat: Chat,
) -> None:  # fmt: skip
    async with replicas(2, socketio_redis_url=REDIS_URL, rate_limit_redis_prefix=prefix) as (a, b):
        await listening(admin, f"{prefix}:drafts", 3)
        await relayed_turn(a, b, chat, rasa, platforms)
        published = await heard(observer, len(GROWING))

    drafts, edits = drafts_and_answer(platforms, chat)
    positions = [GROWING.index(text.removesuffix(" …")) for text in drafts]
    assert positions == sorted(set(positions)), "a draft was shown after a newer one"
    assert positions[-1] == len(GROWING) - 1
    assert edits[-1].params["text"] == FINAL
    assert len({call.params[chat.target] for call in edits}) == 1
    # Published once each, by B, in order; A showed them and published nothing.
    assert published == [
        {"conversation_id": chat.conversation_id, "text": text,
         "replica": b.app.state.draft_relay.replica}
        for text in GROWING
    ]  # fmt: skip


async def test_a_draft_no_replica_is_answering_is_dropped_without_error(
    replicas: Replicas, prefix: str, admin: redis.asyncio.Redis,
    observer: redis.asyncio.client.PubSub, platforms: FakePlatforms,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    async with replicas(2, socketio_redis_url=REDIS_URL, rate_limit_redis_prefix=prefix) as (a, b):
        await listening(admin, f"{prefix}:drafts", 3)
        with caplog.at_level(logging.WARNING, logger="connectors"):
            await draft(b.client, TELEGRAM, GROWING[0])
            await draft(a.client, SLACK, GROWING[0])
            published = await heard(observer, 2)
            await anyio.sleep(0.2)

    assert [payload["conversation_id"] for payload in published] == [TELEGRAM, SLACK]
    assert platforms.calls == []
    assert caplog.records == []


@pytest.mark.parametrize("shared", [True, False], ids=["shared-redis", "one-process"])
async def test_only_telegram_and_slack_drafts_are_published_and_only_with_shared_redis(
    replicas: Replicas, prefix: str, observer: redis.asyncio.client.PubSub, shared: bool
) -> None:
    url = {"socketio_redis_url": REDIS_URL} if shared else {}
    async with replicas(1, rate_limit_redis_prefix=prefix, **url) as (a,):
        relay = a.app.state.draft_relay
        await draft(a.client, "web:AAAAAAAAAAAAAAAAAAAAAA", GROWING[0])
        await draft(a.client, "rest-client-7", GROWING[0])
        await draft(a.client, TELEGRAM, GROWING[1])
        published = await heard(observer, 1 if shared else 0)

    if shared:
        assert published == [
            {"conversation_id": TELEGRAM, "text": GROWING[1], "replica": relay.replica}
        ]
    else:
        assert relay is None and published == []


async def test_while_redis_does_not_answer_drafts_are_dropped_and_answers_arrive(
    replicas: Replicas, platforms: FakePlatforms, rasa: DraftingRasa,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    nowhere = "redis://127.0.0.1:1/7"  # nothing listens on port 1
    with caplog.at_level(logging.WARNING, logger="connectors"):
        async with replicas(
            1, socketio_redis_url=nowhere, rate_limit_redis_prefix="erpdraftsdown"
        ) as (a,):
            for text in GROWING[:3]:
                await draft(a.client, TELEGRAM, text)  # no turn here: to be published

            async def during(conversation_id: str) -> None:
                await draft(a.client, conversation_id, GROWING[0])  # this replica's own turn
                await shown(platforms, ("sendMessage",), f"{GROWING[0]} …")

            rasa.during = during
            await ask_on_telegram(a)
            await anyio.sleep(1.2)  # the listener tries again after 0.5 s, then after 1 s

    messages = [record.getMessage() for record in caplog.records]
    assert sum("drafts for other replicas dropped until Redis" in m for m in messages) == 1
    assert sum("not receiving the answer drafts of other replicas" in m for m in messages) == 1
    assert texts(platforms.of("sendMessage")) == [f"{GROWING[0]} …"]
    assert texts(platforms.of("editMessageText")) == [FINAL]


async def test_garbage_on_the_channel_is_ignored_and_the_relay_goes_on(
    replicas: Replicas, prefix: str, admin: redis.asyncio.Redis, platforms: FakePlatforms,
    rasa: DraftingRasa, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    channel = f"{prefix}:drafts"
    valid = {"conversation_id": TELEGRAM, "text": GROWING[0], "replica": "another-replica"}
    garbage = [
        b"not json", b"\xff\xfe\x00", b"[1, 2]", b"null",
        json.dumps({**valid, "replica": None}),
        json.dumps({**valid, "conversation_id": "web:AAAAAAAAAAAAAAAAAAAAAA"}),
        json.dumps({**valid, "text": "   "}),
        json.dumps({**valid, "text": "x" * 4001}),
    ]  # fmt: skip
    async with replicas(1, socketio_redis_url=REDIS_URL, rate_limit_redis_prefix=prefix) as (a,):
        await listening(admin, channel, 1)
        own = {**valid, "text": "published here", "replica": a.app.state.draft_relay.replica}

        async def during(conversation_id: str) -> None:
            with caplog.at_level(logging.WARNING, logger="connectors"):
                for payload in [*garbage, json.dumps(own)]:
                    await admin.publish(channel, payload)
                await anyio.sleep(0.3)
            assert platforms.of("sendMessage") == []
            await admin.publish(channel, json.dumps(valid))
            await shown(platforms, ("sendMessage",), f"{GROWING[0]} …")

        rasa.during = during
        await ask_on_telegram(a)

    ignored = [r for r in caplog.records if "ignored a malformed answer draft" in r.message]
    assert len(ignored) == len(garbage)
    assert texts(platforms.of("editMessageText")) == [FINAL]


@pytest.fixture
async def gateway_account(admin: redis.asyncio.Redis) -> AsyncIterator[tuple[Production, str]]:
    """A throwaway Redis account made by the provisioning code, and its password."""
    profile = Production(name=f"erp_drafts_{secrets.token_hex(4)}", lock_db=REDIS_DB)
    password = secrets.token_urlsafe(24)
    await anyio.to_thread.run_sync(redis_gateway_acl, profile, password, Provisioned())
    yield profile, password
    await admin.execute_command("ACL", "DELUSER", profile.gateway_redis_user)


def _account_settings(profile: Production, password: str) -> Iterator[tuple[str, Any]]:
    user = profile.gateway_redis_user
    yield "socketio_redis_url", f"redis://{user}@127.0.0.1:6379/{REDIS_DB}"  # password apart
    yield "rate_limit_redis_password", password
    yield "rate_limit_redis_prefix", profile.lock_prefix


async def test_the_gateway_account_relays_drafts_also_after_redis_dropped_its_connections(
    replicas: Replicas, gateway_account: tuple[Production, str], admin: redis.asyncio.Redis,
    platforms: FakePlatforms, rasa: DraftingRasa,
) -> None:  # fmt: skip
    profile, password = gateway_account
    user, channel = profile.gateway_redis_user, f"{profile.lock_prefix}:drafts"
    async with replicas(2, **dict(_account_settings(profile, password))) as (a, b):
        await listening(admin, channel, 2)
        await relayed_turn(a, b, TELEGRAM_CHAT, rasa, platforms)
        before, _ = drafts_and_answer(platforms, TELEGRAM_CHAT)
        # As a Redis restart would: every connection of the account is closed.
        killed = await admin.execute_command("CLIENT", "KILL", "USER", user)
        await listening(admin, channel, 2)
        platforms.calls.clear()
        await relayed_turn(a, b, TELEGRAM_CHAT, rasa, platforms)
        after, edits = drafts_and_answer(platforms, TELEGRAM_CHAT)

    denied = {entry["object"] for entry in await admin.acl_log(count=128)
              if entry["username"] == user}  # fmt: skip
    assert before[-1] == after[-1] == f"{GROWING[-1]} …"
    assert edits[-1].params["text"] == FINAL
    assert killed >= 2  # the relay's publisher and listener at least
    assert denied <= {"client|setinfo"}
    account = redis.asyncio.Redis.from_url(
        f"redis://{user}:{password}@127.0.0.1:6379/{REDIS_DB}")  # fmt: skip
    try:
        with pytest.raises(redis.exceptions.NoPermissionError):
            await account.publish(f"{profile.lock_prefix}:drafts2", "{}")
        with pytest.raises(redis.exceptions.NoPermissionError):
            await account.publish("erpassistant:drafts", "{}")
    finally:
        await account.aclose()


async def test_an_account_refused_the_channel_is_logged_once_and_drafts_still_answer(
    replicas: Replicas, prefix: str, admin: redis.asyncio.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    # The gateway account as provisioned before drafts were relayed: Socket.IO's channel only.
    user, password = f"{prefix}_gateway", secrets.token_urlsafe(24)
    rules = ["reset", "on", f">{password}", f"~{prefix}:*", "resetchannels",
             f"&{prefix}:socketio", "+@all"]  # fmt: skip
    await admin.execute_command("ACL", "SETUSER", user, *rules)
    try:
        with caplog.at_level(logging.WARNING, logger="connectors"):
            async with replicas(
                1, socketio_redis_url=f"redis://{user}@127.0.0.1:6379/{REDIS_DB}",
                rate_limit_redis_password=password, rate_limit_redis_prefix=prefix,
            ) as (a,):  # fmt: skip
                for text in GROWING[:2]:
                    await draft(a.client, TELEGRAM, text)
                await anyio.sleep(1.2)  # the listener tries again after 0.5 s, then after 1 s
                listener = a.app.state.draft_relay._task
                alive = listener is not None and not listener.done()
    finally:
        await admin.execute_command("ACL", "DELUSER", user)

    messages = [record.getMessage() for record in caplog.records]
    refused = [m for m in messages if "no permissions" in m]
    assert alive
    assert len(refused) == 2  # once for publishing, once for listening
    assert any("dropped until Redis answers again" in m for m in refused)
    assert any("not receiving the answer drafts" in m for m in refused)


async def test_drafts_reaching_the_replica_with_the_turn_are_shown_there_unpublished(
    replicas: Replicas, prefix: str, admin: redis.asyncio.Redis,
    observer: redis.asyncio.client.PubSub, platforms: FakePlatforms, rasa: DraftingRasa,
) -> None:  # fmt: skip
    async with replicas(2, socketio_redis_url=REDIS_URL, rate_limit_redis_prefix=prefix) as (a, _):
        await listening(admin, f"{prefix}:drafts", 3)
        await relayed_turn(a, a, TELEGRAM_CHAT, rasa, platforms)
        published = await heard(observer, 0)

    drafts, edits = drafts_and_answer(platforms, TELEGRAM_CHAT)
    assert drafts[-1] == f"{GROWING[-1]} …" and edits[-1].params["text"] == FINAL
    assert published == []
