"""The Slack channel: signatures (Slack's published vector), url_verification, mentions and
DMs answered once in the thread however often Slack retries, the /erp command, buttons."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from slack_sdk.signature import Clock
from starlette.applications import Starlette

from benchmarks.fake_platforms import FakePlatforms
from connectors.channels.slack import COMMAND_HELP, SlackChannel, from_slack, render, to_mrkdwn
from connectors.errors import ChannelDeliveryFailed
from connectors.gateway import create_app
from connectors.messages import Button, OutgoingMessage
from connectors.settings import SlackSettings
from tests.connectors.fakes import (
    SETTINGS,
    FakeRasa,
    SlowRasa,
    actions_transport,
    chart_reply,
    tiny_png,
)

PAYLOADS = (
    Path(
        os.environ.get("CHANNEL_PAYLOADS_DIR")
        or Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "channel_payloads"
    )
    / "slack"
)
SIGNING_SECRET = "test-signing-secret"
STAFF = "U0STAFF01"
WRITER = "U0WRITER1"
FINANCE = "U0FINANCE"
BOSS = "U0BOSS001"

MakeGateway = Callable[..., Awaitable[tuple[httpx.AsyncClient, Starlette]]]


def sample(name: str) -> dict[str, Any]:
    if not PAYLOADS.is_dir():
        message = f"Slack samples not found in {PAYLOADS} (set CHANNEL_PAYLOADS_DIR)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return json.loads((PAYLOADS / name).read_text())


class FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self.at = now

    def now(self) -> float:
        return self.at


def signed(body: bytes, *, secret: str = SIGNING_SECRET, at: int | None = None) -> dict[str, str]:
    timestamp = str(int(time.time()) if at is None else at)
    base = f"v0:{timestamp}:".encode() + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


def mention_event(event_id: str = "Ev0001", **event: Any) -> dict[str, Any]:
    inner = {**sample("app_mention_inner_event.json"), **event}
    return {
        "token": "x", "team_id": "T0001", "api_app_id": "A0001", "event": inner,
        "type": "event_callback", "event_id": event_id, "event_time": 1515449522,
    }  # fmt: skip


@pytest.fixture
async def make_gateway(
    platforms: FakePlatforms, platforms_url: str, fake_rasa: FakeRasa, tmp_path: Path
) -> AsyncIterator[MakeGateway]:
    async with AsyncExitStack() as stack:

        async def make(
            *, rasa: FakeRasa | None = None, clock: Clock | None = None, db: str = ":memory:"
        ) -> tuple[httpx.AsyncClient, Starlette]:
            slack = SlackSettings(
                bot_token="xoxb-test",
                signing_secret=SIGNING_SECRET,
                api_url=platforms_url + "/slack-api/",
                staff_roles={
                    FINANCE: frozenset({"finance"}),
                    f"T0001:{BOSS}": frozenset({"admin"}),
                },
                staff_user_ids=frozenset({STAFF}),
                staff_writer_ids=frozenset({WRITER}),
            )
            settings = dataclasses.replace(SETTINGS, slack=slack, gateway_db=db)
            app = create_app(
                settings,
                db_check=lambda: True,
                rasa_client=rasa or fake_rasa,
                transport=actions_transport(),
            )
            await stack.enter_async_context(app.router.lifespan_context(app))
            if clock is not None:
                app.state.slack.verifier.clock = clock
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw.test")
            )
            return client, app

        yield make


@pytest.fixture
async def gateway(make_gateway: MakeGateway) -> tuple[httpx.AsyncClient, SlackChannel]:
    client, app = await make_gateway()
    return client, app.state.slack


async def post_event(
    client: httpx.AsyncClient, payload: dict[str, Any], **headers: str
) -> httpx.Response:
    body = json.dumps(payload).encode()
    return await client.post(
        "/slack/events",
        content=body,
        headers={"Content-Type": "application/json", **signed(body), **headers},
    )


async def test_slacks_published_signature_vector_is_accepted(make_gateway: MakeGateway) -> None:
    vector = sample("signature_test_vector.json")
    at = int(vector["headers"]["X-Slack-Request-Timestamp"])
    client, app = await make_gateway(clock=FixedClock(at))
    app.state.slack.verifier.signing_secret = vector["signing_secret"]

    response = await client.post(
        "/slack/commands",
        content=vector["raw_body"].encode(),
        headers={"Content-Type": vector["content_type"], **vector["headers"]},
    )

    assert response.status_code == 200
    assert response.json() == {"response_type": "ephemeral", "text": COMMAND_HELP}


@pytest.mark.parametrize(
    ("change", "clock_offset"),
    [("body", 0), ("signature", 0), ("none", 301), ("none", -301)],
    ids=["tampered-body", "tampered-signature", "timestamp-too-old", "timestamp-in-future"],
)
async def test_bad_signature_or_stale_timestamp_gets_401(
    make_gateway: MakeGateway, change: str, clock_offset: int
) -> None:
    vector = sample("signature_test_vector.json")
    at = int(vector["headers"]["X-Slack-Request-Timestamp"])
    client, app = await make_gateway(clock=FixedClock(at + clock_offset))
    app.state.slack.verifier.signing_secret = vector["signing_secret"]
    body = vector["raw_body"].encode()
    headers = dict(vector["headers"])
    if change == "body":
        body = body.replace(b"roadrunner", b"coyote")
    if change == "signature":
        headers["X-Slack-Signature"] = headers["X-Slack-Signature"][:-1] + "0"

    response = await client.post("/slack/commands", content=body, headers=headers)

    assert response.status_code == 401


async def test_unsigned_event_is_rejected_and_not_processed(
    gateway: tuple[httpx.AsyncClient, SlackChannel], fake_rasa: FakeRasa, platforms: FakePlatforms
) -> None:
    client, slack = gateway
    response = await client.post("/slack/events", json=mention_event())
    await slack.drain()

    assert response.status_code == 401
    assert fake_rasa.received == [] and platforms.of("chat.postMessage") == []


async def test_url_verification_answers_the_challenge(
    gateway: tuple[httpx.AsyncClient, SlackChannel],
) -> None:
    client, _ = gateway
    challenge = sample("url_verification.json")

    response = await post_event(client, challenge)

    assert response.status_code == 200
    assert response.json() == {"challenge": challenge["challenge"]}


async def test_mention_sent_three_times_is_acknowledged_fast_and_answered_once_in_thread(
    make_gateway: MakeGateway, platforms: FakePlatforms
) -> None:
    rasa = SlowRasa(delay=1.0, replies=[OutgoingMessage(text="It is, mostly.")])
    client, app = await make_gateway(rasa=rasa)
    event = mention_event("Ev0RETRY")

    acks = []
    for retry in (None, "1", "2"):
        started = time.perf_counter()
        headers = (
            {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        )
        response = await post_event(client, event, **headers)
        acks.append((response.status_code, time.perf_counter() - started))
    await app.state.slack.drain()

    assert [status for status, _ in acks] == [200, 200, 200]
    assert max(seconds for _, seconds in acks) < 0.5  # well inside Slack's 3 s
    assert [(m.sender_id, m.text) for m in rasa.received] == [
        ("slack:T0001:C123ABC456:U061F7AUR", "is it everything a river should be?")
    ]
    [post] = platforms.of("chat.postMessage")
    assert post.params["channel"] == "C123ABC456"
    assert post.params["thread_ts"] == "1515449522.000016"
    assert post.params["text"] == "It is, mostly."


async def test_event_id_is_remembered_across_a_restart(
    make_gateway: MakeGateway, platforms: FakePlatforms, tmp_path: Path
) -> None:
    db = str(tmp_path / "gateway.db")
    first, first_app = await make_gateway(db=db)
    await post_event(first, mention_event("Ev0RESTART"))
    await first_app.state.slack.drain()
    second, second_app = await make_gateway(db=db)

    response = await post_event(second, mention_event("Ev0RESTART"), **{"X-Slack-Retry-Num": "1"})
    await second_app.state.slack.drain()

    assert response.status_code == 200
    assert len(platforms.of("chat.postMessage")) == 1


async def test_direct_message_is_answered_and_bot_messages_are_ignored(
    gateway: tuple[httpx.AsyncClient, SlackChannel], fake_rasa: FakeRasa, platforms: FakePlatforms
) -> None:
    client, slack = gateway
    dm = {
        "type": "message",
        "channel_type": "im",
        "channel": "D0001",
        "user": "U0CUST01",
        "text": "my email is <mailto:jo@example.com|jo@example.com>",
        "ts": "1.000100",
    }
    own = {**dm, "bot_id": "B0001", "user": "UBOT", "ts": "1.000200"}  # fmt: skip

    await post_event(client, mention_event("Ev0DM", **dm))
    await post_event(client, mention_event("Ev0OWN", **own))
    await slack.drain()

    assert [m.text for m in fake_rasa.received] == ["my email is jo@example.com"]
    [post] = platforms.of("chat.postMessage")
    assert post.params["channel"] == "D0001" and "thread_ts" not in post.params


READ = {"sales", "warehouse", "finance", "support"}


@pytest.mark.parametrize(
    ("user", "staff", "writes", "roles"),
    [
        (STAFF, True, False, READ),
        (WRITER, True, True, READ | {"writer"}),
        (FINANCE, True, False, {"finance"}),
        (BOSS, True, True, {"admin"}),
        ("U0CUST01", False, False, set()),
    ],
    ids=["staff", "staff-who-may-change-orders", "finance", "admin-by-team-and-id", "unknown"],
)
async def test_staff_identity_and_roles_come_from_the_slack_user_id(
    gateway: tuple[httpx.AsyncClient, SlackChannel],
    fake_rasa: FakeRasa,
    user: str,
    staff: bool,
    writes: bool,
    roles: set[str],
) -> None:
    client, slack = gateway

    await post_event(client, mention_event(f"Ev0{user}", user=user))
    await slack.drain()

    [message] = fake_rasa.received
    assert message.staff is staff and message.staff_writes is writes
    assert message.staff_roles == roles
    assert message.sender_id == f"slack:T0001:C123ABC456:{user}"
    assert message.client == f"slack:T0001:{user}"


async def test_a_dm_is_the_users_private_conversation(
    gateway: tuple[httpx.AsyncClient, SlackChannel], fake_rasa: FakeRasa
) -> None:
    client, slack = gateway
    dm = {"type": "message", "channel_type": "im", "channel": "D0001", "user": "U0CUST01",
          "text": "where is my order?", "ts": "1.000100"}  # fmt: skip

    await post_event(client, mention_event("Ev0DMID", **dm))
    await slack.drain()

    [message] = fake_rasa.received
    assert (message.sender_id, message.client, message.group) == (
        "slack:T0001:U0CUST01",
        "slack:T0001:U0CUST01",
        False,
    )


async def test_each_person_in_a_channel_has_their_own_group_conversation(
    gateway: tuple[httpx.AsyncClient, SlackChannel], fake_rasa: FakeRasa, platforms: FakePlatforms
) -> None:
    client, slack = gateway

    await post_event(client, mention_event("Ev0A", user="U0AAA"))
    await post_event(client, mention_event("Ev0B", user="U0BBB", thread_ts="1515449522.000016"))
    await slack.drain()

    # Answered in the background, in either order.
    assert sorted((m.sender_id, m.client, m.group) for m in fake_rasa.received) == [
        ("slack:T0001:C123ABC456:U0AAA", "slack:T0001:U0AAA", True),
        ("slack:T0001:C123ABC456:U0BBB", "slack:T0001:U0BBB", True),
    ]
    # Neither shares the DM conversation (slack:T0001:<user>) and its verification.
    assert all(m.sender_id.count(":") == 3 for m in fake_rasa.received)


async def test_agent_replies_reach_the_thread_of_a_group_conversation(
    gateway: tuple[httpx.AsyncClient, SlackChannel], platforms: FakePlatforms
) -> None:
    client, slack = gateway
    await post_event(client, mention_event("Ev0THREAD", user="U0AAA"))
    await slack.drain()

    await slack.push("slack:T0001:C123ABC456:U0AAA", [OutgoingMessage(text="Alice here")])
    await slack.push("slack:T0001:U0NEW", [OutgoingMessage(text="Bob here")])

    *_, group, dm = platforms.of("chat.postMessage")
    assert (group.params["channel"], group.params["thread_ts"]) == (
        "C123ABC456",
        "1515449522.000016",
    )
    assert group.params["text"] == "Alice here"
    assert (dm.params["channel"], dm.params["text"]) == ("U0NEW", "Bob here")
    for bad in ("slack:T0001", "slack:T0001::U1", "slack:a:b:c:d", "telegram:1"):
        with pytest.raises(ChannelDeliveryFailed):
            await slack.push(bad, [OutgoingMessage(text="x")])


@pytest.mark.parametrize("path", ["/slack/events", "/slack/commands", "/slack/interactions"])
async def test_every_endpoint_refuses_a_request_signed_with_another_secret(
    gateway: tuple[httpx.AsyncClient, SlackChannel], fake_rasa: FakeRasa, path: str
) -> None:
    client, slack = gateway
    body = json.dumps(mention_event("Ev0FORGED")).encode()
    headers = {"Content-Type": "application/json", **signed(body, secret="not-the-secret")}

    response = await client.post(path, content=body, headers=headers)
    await slack.drain()

    assert response.status_code == 401
    assert fake_rasa.received == []


async def test_slash_command_acknowledges_then_answers_through_the_response_url(
    gateway: tuple[httpx.AsyncClient, SlackChannel],
    fake_rasa: FakeRasa,
    platforms: FakePlatforms,
    platforms_url: str,
) -> None:
    client, slack = gateway
    fake_rasa.replies = [OutgoingMessage(text="WID-1001: 42 in stock.")]
    body = urlencode({
        "team_id": "T0001", "user_id": STAFF, "channel_id": "C0001", "command": "/erp",
        "text": "is WID-1001 in stock?", "trigger_id": "trig-1",
        "response_url": f"{platforms_url}/slack-response/hook-1",
    }).encode()  # fmt: skip

    response = await client.post(
        "/slack/commands",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", **signed(body)},
    )
    await slack.drain()

    assert response.status_code == 200
    assert response.json()["response_type"] == "ephemeral"
    assert [(m.text, m.staff) for m in fake_rasa.received] == [("is WID-1001 in stock?", True)]
    [answer] = platforms.of("hook-1")
    assert answer.params["text"] == "WID-1001: 42 in stock."
    assert answer.params["response_type"] == "ephemeral"


async def test_buttons_render_as_block_kit_and_a_click_sends_the_payload(
    gateway: tuple[httpx.AsyncClient, SlackChannel], fake_rasa: FakeRasa, platforms: FakePlatforms
) -> None:
    client, slack = gateway
    fake_rasa.replies = [
        OutgoingMessage(
            text="I can help with:", buttons=[Button("Where is my order?", "/order_status")]
        )
    ]
    await post_event(client, mention_event("Ev0BTN", text="<@U0LAN0Z89> help"))
    await slack.drain()

    [post] = platforms.of("chat.postMessage")
    actions = post.params["blocks"][1]
    assert actions["type"] == "actions"
    assert actions["elements"][0]["value"] == "/order_status"
    click = {
        "type": "block_actions", "trigger_id": "trig-click", "team": {"id": "T0001"},
        "user": {"id": "U0CUST01"}, "channel": {"id": "C123ABC456"},
        "container": {"message_ts": "2.0", "thread_ts": "1515449522.000016"},
        "actions": [{"action_id": "erp_button_0", "value": "/order_status", "action_ts": "3.0"}],
    }  # fmt: skip
    body = urlencode({"payload": json.dumps(click)}).encode()

    response = await client.post(
        "/slack/interactions",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", **signed(body)},
    )
    await slack.drain()

    assert response.status_code == 200
    assert fake_rasa.received[-1].text == "/order_status"
    # The click in the channel is the clicker's own conversation there.
    assert fake_rasa.received[-1].sender_id == "slack:T0001:C123ABC456:U0CUST01"
    assert fake_rasa.received[-1].group is True
    assert platforms.of("chat.postMessage")[-1].params["thread_ts"] == "1515449522.000016"


async def test_rate_limited_post_is_retried(
    gateway: tuple[httpx.AsyncClient, SlackChannel], platforms: FakePlatforms
) -> None:
    client, slack = gateway
    platforms.fail("chat.postMessage", status=429, retry_after=1)

    await post_event(client, mention_event("Ev0429"))
    await slack.drain()

    posts = platforms.of("chat.postMessage")
    assert len(posts) == 2
    assert posts[1].at - posts[0].at >= 0.9


DM = {"type": "message", "channel_type": "im", "channel": "D0001", "user": "U0STAFF01",
      "text": "chart the stock of WID-1001", "ts": "1.000100"}  # fmt: skip


@pytest.mark.parametrize(
    ("event", "channel", "thread_ts", "conversation"),
    [({}, "C123ABC456", "1515449522.000016", "slack:T0001:C123ABC456:U061F7AUR"),
     (DM, "D0001", None, "slack:T0001:U0STAFF01")],
    ids=["mention-in-its-thread", "dm"],
)  # fmt: skip
async def test_a_chart_reply_is_uploaded_once_where_the_answer_goes(
    gateway: tuple[httpx.AsyncClient, SlackChannel],
    fake_rasa: FakeRasa,
    platforms: FakePlatforms,
    event: dict[str, Any],
    channel: str,
    thread_ts: str | None,
    conversation: str,
) -> None:
    client, slack = gateway
    fake_rasa.replies = [OutgoingMessage(text="WID-1001 runs out around 12 Nov."), chart_reply()]

    await post_event(client, mention_event("Ev0CHART", **event))
    await slack.drain()

    [post] = platforms.of("chat.postMessage")
    assert post.params["text"] == "WID-1001 runs out around 12 Nov."
    [ticket] = platforms.of("files.getUploadURLExternal")
    assert int(ticket.params["length"]) == len(tiny_png())
    assert ticket.params["filename"].endswith(".png")
    [upload] = platforms.of("upload")
    assert upload.params["content"] == tiny_png()
    assert upload.params["content_type"] == "image/png"
    [done] = platforms.of("files.completeUploadExternal")
    assert done.params["files"] == [
        {"id": upload.params["file_id"], "title": "WID-1001: sales and stock"}
    ]
    assert done.params["channel_id"] == channel
    assert done.params.get("thread_ts") == thread_ts
    assert done.params["initial_comment"] == "Sales of about 5 a day; runs out around 12 November."
    # The transcript names the chart; it does not keep the picture.
    *_, said, chart = await slack.turns.store.history(conversation)
    assert (said["text"], chart["text"]) == ("WID-1001 runs out around 12 Nov.",
                                            "[chart] WID-1001: sales and stock")  # fmt: skip
    assert chart.get("chart", {}).get("title") == "WID-1001: sales and stock"
    assert "png" not in json.dumps(chart)


async def test_a_failed_upload_still_delivers_the_text_and_is_logged(
    gateway: tuple[httpx.AsyncClient, SlackChannel],
    fake_rasa: FakeRasa,
    platforms: FakePlatforms,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, slack = gateway
    fake_rasa.replies = [
        chart_reply(text="Here is the ageing."),
        OutgoingMessage(text="Anything else?"),
    ]
    platforms.fail("upload", status=500)

    with caplog.at_level(logging.ERROR, logger="connectors"):
        await post_event(client, mention_event("Ev0UPFAIL"))
        await slack.drain()

    assert [p.params["text"] for p in platforms.of("chat.postMessage")] == [
        "Here is the ageing.",
        "Anything else?",
    ]
    assert len(platforms.of("upload")) == 1
    assert platforms.of("files.completeUploadExternal") == []
    assert "slack chart upload to C123ABC456 failed" in caplog.text


@pytest.mark.parametrize(
    "chart",
    ["not an object", {"title": "Stock", "png": "%%% not base64"},
     {"title": "Stock", "png": "R0lGODlhAQABAAAAACw="}, {"title": " ", "png": ""},
     {"title": "Stock", "png": "A" * 400_004}],
    ids=["not-an-object", "not-base64", "a-gif-not-a-png", "no-title", "over-the-cap"],
)  # fmt: skip
async def test_a_malformed_chart_payload_is_ignored_and_logged(
    gateway: tuple[httpx.AsyncClient, SlackChannel],
    fake_rasa: FakeRasa,
    platforms: FakePlatforms,
    caplog: pytest.LogCaptureFixture,
    chart: Any,
) -> None:
    client, slack = gateway
    fake_rasa.replies = [
        OutgoingMessage(text="Here you go."),
        OutgoingMessage(custom={"chart": chart}),
    ]

    with caplog.at_level(logging.WARNING, logger="connectors"):
        await post_event(client, mention_event("Ev0BADCHART"))
        await slack.drain()

    assert [p.params["text"] for p in platforms.of("chat.postMessage")] == ["Here you go."]
    assert platforms.of("files.getUploadURLExternal") == platforms.of("upload") == []
    assert [r.getMessage() for r in caplog.records if "chart dropped" in r.getMessage()] != []


async def test_a_chart_answer_to_the_slash_command_is_named_not_uploaded(
    gateway: tuple[httpx.AsyncClient, SlackChannel],
    fake_rasa: FakeRasa,
    platforms: FakePlatforms,
    platforms_url: str,
) -> None:
    client, slack = gateway
    fake_rasa.replies = [chart_reply(title="Receivables ageing")]
    body = urlencode({
        "team_id": "T0001", "user_id": STAFF, "channel_id": "C0001", "command": "/erp",
        "text": "ageing chart", "trigger_id": "trig-chart",
        "response_url": f"{platforms_url}/slack-response/hook-chart",
    }).encode()  # fmt: skip

    await client.post(
        "/slack/commands",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", **signed(body)},
    )
    await slack.drain()

    [answer] = platforms.of("hook-chart")
    assert answer.params["text"].startswith("[chart] Receivables ageing (charts show when")
    assert platforms.of("files.getUploadURLExternal") == []


def test_slack_markup_to_plain_text() -> None:
    text = "<@U0LAN0Z89> order <https://nb.example/o/1|SO-1> in <#C1|sales> &amp; zip &lt;x&gt;"
    assert from_slack(text) == "order https://nb.example/o/1 in sales & zip <x>"


def test_bot_text_is_escaped_and_links_are_slack_links() -> None:
    text = "Q&A <b> see [Returns](https://nb.example/r) or https://nb.example/x."
    assert (
        to_mrkdwn(text)
        == "Q&amp;A &lt;b&gt; see <https://nb.example/r|Returns> or <https://nb.example/x>."
    )


def test_image_reply_is_an_image_block() -> None:
    _, blocks = render(OutgoingMessage(image="https://nb.example/map.png"))
    assert blocks == [
        {"type": "image", "image_url": "https://nb.example/map.png", "alt_text": "image"}
    ]
