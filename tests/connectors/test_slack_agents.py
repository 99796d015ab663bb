"""The Slack agent channel against the fake Slack Web API, with real signed requests: new
handoffs posted with a Claim button, thread replies reaching the customer, claims by reaction
and button, ``!resolve``, the customer's messages in the thread, durability across restarts,
and nothing from the agent channel ever reaching Rasa."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from starlette.applications import Starlette

from benchmarks.fake_platforms import Call, FakePlatforms
from connectors.agents.auth import AgentAuth
from connectors.agents.settings import AgentSettings
from connectors.channels.slack import SlackChannel
from connectors.channels.slack_agents import (
    CLAIM_ACTION,
    PENDING_TS,
    RESOLVE_ACTION,
    SlackAgentChannel,
    handoff_blocks,
)
from connectors.gateway import create_app
from connectors.handoff.queue import Handoff, HandoffQueue, Trigger
from connectors.messages import OutgoingMessage
from connectors.ratelimit import RateLimiter
from connectors.settings import SlackSettings
from connectors.store import GatewayStore
from connectors.turns import Turns
from tests.connectors.fakes import SETTINGS, FakeRasa, actions_transport
from tests.connectors.test_slack import SIGNING_SECRET, signed

AGENTS = "C0AGENTS"
AGENT = "U0AGENT1"
OTHER = "U0AGENT2"
ASKED = Trigger("user_request", 0.97, "asked for a person: 'get me a human'")
_ids = itertools.count(1)


@dataclass
class Customer:
    received: list[tuple[str, OutgoingMessage]]

    async def __call__(self, conversation_id: str, messages: list[OutgoingMessage]) -> None:
        self.received += [(conversation_id, m) for m in messages]

    def texts(self) -> list[str]:
        return [m.text or "" for _, m in self.received]


@dataclass
class Setup:
    client: httpx.AsyncClient
    slack: SlackChannel
    agents: SlackAgentChannel
    queue: HandoffQueue
    store: GatewayStore
    rasa: FakeRasa
    customer: Customer
    platforms: FakePlatforms

    async def escalate(self, conversation: str = "web:abc") -> int:
        await self.store.append_user(conversation, "my parcel never came and I want a refund")
        handoff = await self.queue.escalate(
            conversation, "web", ASKED, slots={"order_number": "SO-100123"}
        )
        return handoff.id

    async def root_ts(self, handoff_id: int, timeout: float = 10.0) -> str:
        """The ts of the handoff's message in the agent channel, once it is posted."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            rows = self.store._query(
                "SELECT ts FROM slack_handoff_threads WHERE handoff_id = ? AND ts NOT LIKE ?",
                (handoff_id, f"{PENDING_TS}%"),
            )
            if rows:
                return str(rows[0][0])
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"handoff {handoff_id} was not posted: {self.platforms.calls}")
            await asyncio.sleep(0.02)

    async def event(self, event: dict[str, Any]) -> httpx.Response:
        payload = {"type": "event_callback", "team_id": "T0001", "event": event,
                   "event_id": f"Ev{next(_ids):06d}", "event_time": 1700000000}  # fmt: skip
        body = json.dumps(payload).encode()
        response = await self.client.post(
            "/slack/events",
            content=body,
            headers={"Content-Type": "application/json", **signed(body)},
        )
        await self.slack.drain()
        return response

    async def thread_reply(self, handoff_id: int, text: str, user: str = AGENT) -> str:
        ts = f"1700000100.{next(_ids):06d}"
        root = await self.root_ts(handoff_id)
        response = await self.event({"type": "message", "channel": AGENTS,
                                     "channel_type": "channel", "user": user, "text": text,
                                     "ts": ts, "thread_ts": root})  # fmt: skip
        assert response.status_code == 200
        return ts

    async def click(self, handoff_id: int, action: str, user: str = AGENT) -> httpx.Response:
        payload = {
            "type": "block_actions", "trigger_id": f"trig{next(_ids)}", "user": {"id": user},
            "team": {"id": "T0001"}, "channel": {"id": AGENTS},
            "container": {"type": "message", "message_ts": await self.root_ts(handoff_id)},
            "actions": [{"action_id": action, "value": str(handoff_id),
                         "action_ts": "1700000200.000001"}],
        }  # fmt: skip
        body = urlencode({"payload": json.dumps(payload)}).encode()
        response = await self.client.post(
            "/slack/interactions",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", **signed(body)},
        )
        await self.slack.drain()
        return response


async def wait_for(
    platforms: FakePlatforms, done: Callable[[list[Call]], bool], timeout: float = 10.0
) -> list[Call]:
    """Like ``FakePlatforms.wait_for``, without blocking the event loop the gateway runs on."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not done(list(platforms.calls)):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"calls so far: {[c.method for c in platforms.calls]}")
        await asyncio.sleep(0.02)
    return list(platforms.calls)


def _is_post_of(call: Call, handoff_id: int) -> bool:
    return (
        call.method == "chat.postMessage"
        and call.params.get("channel") == AGENTS
        and "thread_ts" not in call.params
        and str(call.params.get("text", "")).startswith(f"Handoff #{handoff_id} ")
    )


MakeSetup = Callable[..., Awaitable[Setup]]


@pytest.fixture
async def make_setup(
    platforms: FakePlatforms, platforms_url: str, tmp_path: Path
) -> AsyncIterator[MakeSetup]:
    async with AsyncExitStack() as stack:

        async def make(*, users: dict[str, str] | None = None, db: str = ":memory:") -> Setup:
            store = GatewayStore(db if db == ":memory:" or "://" in db else tmp_path / db)
            stack.callback(store.close)
            turns = Turns(store=store, limiter=RateLimiter(per_minute=60, burst=20),
                          max_chars=2000)  # fmt: skip
            rasa = FakeRasa()
            turns.rasa = rasa
            slack = SlackChannel(
                SlackSettings(bot_token="xoxb-test", signing_secret=SIGNING_SECRET,
                              api_url=platforms_url + "/slack-api/"),
                turns,
            )  # fmt: skip
            settings = AgentSettings(slack_agent_channel=AGENTS, slack_agent_users=users or {})
            auth = AgentAuth(store, settings)
            queue = HandoffQueue(store, agents_online=auth.agents_online)
            customer = Customer([])
            queue.delivery.register("web", customer)
            agents = SlackAgentChannel(settings, store=store, queue=queue, auth=auth,
                                       client=slack.client, resync_seconds=0.2)  # fmt: skip
            slack.agents = agents
            await agents.start()
            stack.push_async_callback(agents.stop)
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=Starlette(routes=slack.routes())),
                    base_url="http://gw.test",
                )
            )
            return Setup(client, slack, agents, queue, store, rasa, customer, platforms)

        yield make


@pytest.fixture
async def setup(make_setup: MakeSetup) -> Setup:
    return await make_setup()


def buttons(call: Call) -> list[dict[str, Any]]:
    blocks = call.params.get("blocks") or []
    return [e for b in blocks if b.get("type") == "actions" for e in b["elements"]]


def text_of(call: Call) -> str:
    return json.dumps(call.params.get("blocks") or []) + str(call.params.get("text", ""))


async def test_a_new_handoff_is_posted_with_summary_trigger_and_a_claim_button(
    setup: Setup,
) -> None:
    handoff_id = await setup.escalate()

    await setup.root_ts(handoff_id)
    post = next(c for c in setup.platforms.of("chat.postMessage") if _is_post_of(c, handoff_id))
    content = text_of(post)
    assert "never came" in content  # the summary
    assert "user_request" in content and "0.97" in content and "SO-100123" in content
    claim = [b for b in buttons(post) if b["action_id"] == CLAIM_ACTION]
    assert claim and claim[0]["value"] == str(handoff_id)
    assert any(b["action_id"] == RESOLVE_ACTION for b in buttons(post))


async def test_an_agents_thread_reply_reaches_the_customer_and_claims_the_handoff(
    setup: Setup,
) -> None:
    handoff_id = await setup.escalate()

    ts = await setup.thread_reply(handoff_id, "Hi, I'm Sam. I'm sorry, let me sort that out.")

    assert setup.customer.texts()[-1] == "Hi, I'm Sam. I'm sorry, let me sort that out."
    handoff = await setup.queue.get(handoff_id)
    assert handoff is not None and handoff.status == "assigned"
    assert handoff.agent == f"slack:{AGENT}"
    transcript = await setup.queue.transcript("web:abc")
    assert transcript[-1]["role"] == "agent" and transcript[-1].get("agent") == f"slack:{AGENT}"
    sent = setup.platforms.of("reactions.add")
    assert sent and sent[-1].params == {"channel": AGENTS, "timestamp": ts,
                                        "name": "white_check_mark"}  # fmt: skip
    assert setup.rasa.received == []


async def test_a_reaction_claims_the_handoff_and_the_message_shows_who(setup: Setup) -> None:
    handoff_id = await setup.escalate()
    root = await setup.root_ts(handoff_id)

    await setup.event({"type": "reaction_added", "user": AGENT, "reaction": "raising_hand",
                       "item": {"type": "message", "channel": AGENTS, "ts": root},
                       "event_ts": "1700000300.000001"})  # fmt: skip

    handoff = await setup.queue.get(handoff_id)
    assert handoff is not None and handoff.agent == f"slack:{AGENT}"
    calls = await wait_for(setup.platforms, lambda cs: any(c.method == "chat.update" for c in cs))
    update = [c for c in calls if c.method == "chat.update"][-1]
    assert update.params["ts"] == root and f"<@{AGENT}>" in text_of(update)
    assert not [b for b in buttons(update) if b["action_id"] == CLAIM_ACTION]
    await wait_for(setup.platforms, lambda cs: any(c.params.get("thread_ts") == root
                                            and "claimed" in str(c.params.get("text"))
                                            for c in cs))  # fmt: skip


async def test_other_reactions_claim_nothing(setup: Setup) -> None:
    handoff_id = await setup.escalate()

    await setup.event({"type": "reaction_added", "user": AGENT, "reaction": "thumbsup",
                       "item": {"type": "message", "channel": AGENTS,
                                "ts": await setup.root_ts(handoff_id)}})  # fmt: skip

    assert (await setup.queue.get(handoff_id)).status == "waiting"  # type: ignore[union-attr]


async def test_claim_button_gives_it_to_the_first_clicker_and_tells_the_second(
    setup: Setup,
) -> None:
    handoff_id = await setup.escalate()

    assert (await setup.click(handoff_id, CLAIM_ACTION, AGENT)).status_code == 200
    assert (await setup.click(handoff_id, CLAIM_ACTION, OTHER)).status_code == 200

    handoff = await setup.queue.get(handoff_id)
    assert handoff is not None and handoff.agent == f"slack:{AGENT}"
    ephemeral = setup.platforms.of("chat.postEphemeral")
    assert ephemeral and ephemeral[-1].params["user"] == OTHER
    assert f"<@{AGENT}> already has it" in ephemeral[-1].params["text"]
    assert setup.rasa.received == []


async def test_bang_resolve_in_the_thread_hands_back_to_the_bot_with_the_note(
    setup: Setup,
) -> None:
    handoff_id = await setup.escalate()
    await setup.thread_reply(handoff_id, "Refund issued.")

    await setup.thread_reply(handoff_id, "!resolve refund of £42 issued")

    handoff = await setup.queue.get(handoff_id)
    assert handoff is not None and handoff.status == "resolved"
    assert handoff.note == "refund of £42 issued"
    assert "handed you back to the assistant" in setup.customer.texts()[-1]
    assert (await setup.queue.ownership("web:abc")).owner == "bot"
    await wait_for(setup.platforms, lambda cs: any(c.method == "chat.update" and "Resolved" in
                                            text_of(c) for c in cs))  # fmt: skip


async def test_resolve_button_by_someone_else_than_the_claimer_is_refused(setup: Setup) -> None:
    handoff_id = await setup.escalate()
    await setup.click(handoff_id, CLAIM_ACTION, AGENT)

    await setup.click(handoff_id, RESOLVE_ACTION, OTHER)

    assert (await setup.queue.get(handoff_id)).status == "assigned"  # type: ignore[union-attr]
    assert "can resolve it" in setup.platforms.of("chat.postEphemeral")[-1].params["text"]
    await setup.click(handoff_id, RESOLVE_ACTION, AGENT)
    assert (await setup.queue.get(handoff_id)).status == "resolved"  # type: ignore[union-attr]


async def test_resolving_an_already_resolved_handoff_says_so(setup: Setup) -> None:
    handoff_id = await setup.escalate()
    await setup.click(handoff_id, RESOLVE_ACTION, AGENT)

    await setup.click(handoff_id, RESOLVE_ACTION, OTHER)

    assert "already resolved" in setup.platforms.of("chat.postEphemeral")[-1].params["text"]
    handoff = await setup.queue.get(handoff_id)
    assert handoff is not None and handoff.resolved_by == f"slack:{AGENT}"


def test_the_posted_context_marks_what_was_verified_and_what_was_not() -> None:
    handoff = Handoff(
        id=7, conversation_id="web:a", channel="web", queue="customers", priority=0,
        status="waiting", trigger=ASKED, summary="Issue: late", agent=None, created_at=0.0,
        assigned_at=None, resolved_at=None,
        slots={"verified_customer_id": 42, "verified_records": ["SO-100123"],
               "unverified_order_number": "SO-100999", "sku": "WID-1001"},
    )  # fmt: skip

    fields = [f["text"] for f in handoff_blocks(handoff)[2]["fields"]]

    assert fields[4:] == [
        "*Verified customer:* 42",
        "*Order:* SO-100123 (verified)",
        "*Order:* :warning: SO-100999 (NOT verified: do not disclose)",
        "*SKU:* WID-1001",
    ]


def test_a_plain_verified_customer_slot_is_never_shown_as_verified() -> None:
    handoff = Handoff(
        id=8, conversation_id="web:a", channel="web", queue="customers", priority=0,
        status="waiting", trigger=ASKED, summary="", agent=None, created_at=0.0,
        assigned_at=None, resolved_at=None,
        slots={"verified_customer_id": "7", "order_number": "SO-100123"},
    )  # fmt: skip

    fields = [f["text"] for f in handoff_blocks(handoff)[2]["fields"]]

    assert fields[4:] == ["*Order:* :warning: SO-100123 (NOT verified: do not disclose)"]


async def test_the_customers_messages_appear_in_the_thread(setup: Setup) -> None:
    handoff_id = await setup.escalate()
    root = await setup.root_ts(handoff_id)
    handoff = await setup.queue.get(handoff_id)
    assert handoff is not None

    transcript_id = await setup.store.append_user("web:abc", "are you still there?")
    await setup.queue.user_message(handoff, transcript_id)

    calls = await wait_for(setup.platforms, lambda cs: any(c.params.get("thread_ts") == root and
                                                    "still there" in str(c.params.get("text"))
                                                    for c in cs))  # fmt: skip
    line = next(c for c in calls if "still there" in str(c.params.get("text")))
    assert line.params["channel"] == AGENTS and "Customer" in line.params["text"]


async def test_messages_and_mentions_in_the_agent_channel_never_reach_rasa(setup: Setup) -> None:
    handoff_id = await setup.escalate()
    root = await setup.root_ts(handoff_id)

    await setup.event({"type": "app_mention", "channel": AGENTS, "user": AGENT,
                       "text": "<@UBOT> what is this?", "ts": "1700000400.000001",
                       "thread_ts": root})  # fmt: skip
    await setup.event({"type": "message", "channel": AGENTS, "user": AGENT,
                       "text": "morning all", "ts": "1700000400.000002"})  # fmt: skip
    await setup.event({"type": "message", "channel": AGENTS, "bot_id": "B1", "user": "UBOT",
                       "text": "echo of our own post", "ts": "1700000400.000003",
                       "thread_ts": root})  # fmt: skip

    assert setup.rasa.received == []
    assert setup.customer.texts() == []
    assert (await setup.queue.get(handoff_id)).status == "waiting"  # type: ignore[union-attr]


async def test_unsigned_events_for_the_agent_channel_are_refused(setup: Setup) -> None:
    handoff_id = await setup.escalate()
    event = {"type": "message", "channel": AGENTS, "user": AGENT, "text": "forged",
             "ts": "1700000500.000001", "thread_ts": await setup.root_ts(handoff_id)}  # fmt: skip

    response = await setup.client.post(
        "/slack/events", json={"type": "event_callback", "event_id": "EvF", "event": event}
    )
    await setup.slack.drain()

    assert response.status_code == 401
    assert setup.customer.texts() == []


async def test_only_listed_slack_users_act_and_mapped_ones_act_as_their_console_agent(
    make_setup: MakeSetup,
) -> None:
    setup = await make_setup(users={AGENT: "alice"})
    handoff_id = await setup.escalate()

    await setup.thread_reply(handoff_id, "I'm not an agent", user=OTHER)
    assert setup.customer.texts() == []
    assert "not set up as an agent" in setup.platforms.of("chat.postEphemeral")[-1].params["text"]

    await setup.thread_reply(handoff_id, "Alice here, on it.", user=AGENT)
    assert setup.customer.texts()[-1] == "Alice here, on it."
    assert (await setup.queue.get(handoff_id)).agent == "alice"  # type: ignore[union-attr]


async def test_threads_survive_a_restart_and_nothing_is_posted_twice(
    make_setup: MakeSetup, platforms: FakePlatforms
) -> None:
    first = await make_setup(db="gateway.db")
    handoff_id = await first.escalate()
    root = await first.root_ts(handoff_id)
    await first.agents.stop()

    second = await make_setup(db="gateway.db")
    waiting = await second.escalate("web:second")  # a handoff made after the restart
    await second.root_ts(waiting)
    await second.thread_reply(handoff_id, "Sorry for the wait, back now.")

    assert second.customer.texts()[-1] == "Sorry for the wait, back now."
    posts = [c for c in platforms.of("chat.postMessage") if _is_post_of(c, handoff_id)]
    assert len(posts) == 1 and await second.root_ts(handoff_id) == root


async def test_a_handoff_whose_post_failed_is_posted_by_the_next_resync(
    setup: Setup, platforms: FakePlatforms
) -> None:
    platforms.fail("chat.postMessage", status=500, times=5)
    handoff_id = await setup.escalate()

    await setup.root_ts(handoff_id)  # waits until a later attempt went through

    assert len([c for c in platforms.of("chat.postMessage") if _is_post_of(c, handoff_id)]) >= 2


async def test_through_the_gateway_a_rest_handoff_is_answered_from_its_slack_thread(
    platforms: FakePlatforms, platforms_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_AGENT_CHANNEL", AGENTS)
    rasa = FakeRasa()
    slack = SlackSettings(bot_token="xoxb-test", signing_secret=SIGNING_SECRET,
                          api_url=platforms_url + "/slack-api/")  # fmt: skip
    app = create_app(dataclasses.replace(SETTINGS, slack=slack), db_check=lambda: True,
                     rasa_client=rasa, transport=actions_transport())  # fmt: skip
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw.test") as gw,
    ):
        setup = Setup(gw, app.state.slack, app.state.agents.slack, app.state.handoff_queue,
                      app.state.turns.store, rasa, Customer([]), platforms)  # fmt: skip

        await gw.post("/api/messages", json={"sender_id": "rest-7", "text": "/request_human"})
        handoff = await setup.queue.open_for("rest:local:rest-7")
        assert handoff is not None
        root = await setup.root_ts(handoff.id)
        await gw.post("/api/messages", json={"sender_id": "rest-7", "text": "hello, anyone?"})
        await wait_for(platforms, lambda cs: any(c.params.get("thread_ts") == root and
                                                 "anyone" in str(c.params.get("text"))
                                                 for c in cs))  # fmt: skip
        await setup.thread_reply(handoff.id, "Yes, Sam here. Checking now.")

        pending = (await gw.get("/api/messages/rest-7/pending")).json()["messages"]
        assert "Yes, Sam here. Checking now." in [m["text"] for m in pending]
        assert rasa.received == []


async def test_a_broadcast_reply_is_sent_and_a_file_is_not(setup: Setup) -> None:
    handoff_id = await setup.escalate()
    root = await setup.root_ts(handoff_id)

    await setup.event({"type": "message", "subtype": "thread_broadcast", "channel": AGENTS,
                       "user": AGENT, "text": "On it!", "ts": "1700000600.000001",
                       "thread_ts": root})  # fmt: skip
    await setup.event({"type": "message", "subtype": "file_share", "channel": AGENTS,
                       "user": AGENT, "text": "", "ts": "1700000600.000002",
                       "thread_ts": root, "files": [{"id": "F1"}]})  # fmt: skip

    assert setup.customer.texts()[-1] == "On it!"
    assert "Files are not passed on" in setup.platforms.of("chat.postEphemeral")[-1].params["text"]


async def test_two_replicas_post_a_handoff_once_and_either_relays_the_thread_reply(
    make_setup: MakeSetup, platforms: FakePlatforms, gateway_db: str
) -> None:
    first = await make_setup(db=gateway_db)
    second = await make_setup(db=gateway_db)  # both resync every 0.2 s

    handoffs = [await (first if n % 2 else second).escalate(f"web:{n}") for n in range(6)]
    roots = [await first.root_ts(handoff_id) for handoff_id in handoffs]
    await asyncio.sleep(0.6)  # a few more resyncs on both
    await second.thread_reply(handoffs[1], "Hello from Slack")

    for handoff_id in handoffs:
        posts = [c for c in platforms.of("chat.postMessage") if _is_post_of(c, handoff_id)]
        assert len(posts) == 1
    assert len(set(roots)) == len(handoffs)
    assert second.customer.texts()[-1] == "Hello from Slack"
