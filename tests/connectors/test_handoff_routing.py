"""Handoff in the gateway's turn path: while a person owns a conversation Rasa gets nothing;
every trigger is recorded with its rule and score; the hand-back asks for a rating."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from connectors.gateway import create_app
from connectors.handoff import notices
from connectors.handoff.hours import BusinessHours
from connectors.handoff.queue import HandoffQueue
from connectors.handoff.triggers import TriggerDetector
from connectors.messages import IncomingMessage, OutgoingMessage
from connectors.ratelimit import RateLimiter
from connectors.settings import GatewaySettings, HandoffSettings
from connectors.store import GatewayStore
from connectors.turns import Turns
from erp.access import Verification, sign_verification
from i18n.texts import say as say_text
from tests.connectors.fakes import SETTINGS, FakeRasa, actions_transport

ALWAYS_OPEN = BusinessHours(days=frozenset(range(7)), opens=dt.time(0), closes=dt.time.max)
LONDON = BusinessHours().zone
SATURDAY_NOON = dt.datetime(2026, 11, 7, 12, 0, tzinfo=LONDON).timestamp()
HANDOFF_REQUEST = OutgoingMessage(
    text="I'm getting a colleague from our team for you.",
    custom={
        "handoff": {
            "rule": "user_request",
            "score": 0.934,
            "detail": "asked for a person: 'get me a human'",
            # The action server sends what the conversation verified, already decoded.
            "slots": {
                "verified_customer_id": 42,
                "verified_records": ["SO-100123"],
                "unverified_order_number": "SO-100999",
            },
        }
    },
)

# The conversation of REST sender "rest-1" from a loopback client (no API keys configured).
REST_1 = "rest:local:rest-1"
Gateway = tuple[httpx.AsyncClient, Starlette]
MakeGateway = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def make_gateway(fake_rasa: FakeRasa, tmp_path: Path) -> AsyncIterator[MakeGateway]:
    """A gateway app on a file database with its lifespan running; an agent is online."""
    async with AsyncExitStack() as stack:

        async def make(*, settings: GatewaySettings | None = None, online: int = 1) -> Gateway:
            settings = settings or dataclasses.replace(
                SETTINGS, gateway_db=str(tmp_path / "gateway.db")
            )
            app = create_app(
                settings, db_check=lambda: True, rasa_client=fake_rasa,
                transport=actions_transport(),
            )  # fmt: skip
            await stack.enter_async_context(app.router.lifespan_context(app))
            queue: HandoffQueue = app.state.handoff_queue
            queue.hours = ALWAYS_OPEN
            queue.agents_online = lambda: online
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw.test")
            )
            return client, app

        yield make


async def say(client: httpx.AsyncClient, text: str, sender: str = "rest-1") -> list[str | None]:
    response = await client.post("/api/messages", json={"sender_id": sender, "text": text})
    assert response.status_code == 200, response.text
    return [m["text"] for m in response.json()["messages"]]


def queue_of(app: Starlette) -> HandoffQueue:
    queue: HandoffQueue = app.state.handoff_queue
    return queue


async def test_rasas_handoff_request_opens_a_handoff_and_the_gateway_tells_the_user(
    make_gateway: MakeGateway, fake_rasa: FakeRasa
) -> None:
    client, app = await make_gateway()
    fake_rasa.replies = [HANDOFF_REQUEST]
    events = queue_of(app).subscribe()

    replies = await say(client, "get me a human")

    assert replies == [say_text("notice.escalated_open", "en")]
    handoff = (await events.get(timeout=2))["handoff"]
    assert (handoff.trigger.rule, handoff.trigger.score) == ("user_request", 0.934)
    assert handoff.slots == {"verified_customer_id": 42, "verified_records": ["SO-100123"],
                             "unverified_order_number": "SO-100999"}  # fmt: skip
    assert "order SO-100999 (NOT verified: do not disclose)" in handoff.summary
    assert handoff.channel == "rest" and handoff.status == "waiting"
    assert '"get me a human"' in handoff.summary


async def test_while_a_person_owns_the_conversation_rasa_gets_none_of_the_messages(
    make_gateway: MakeGateway, fake_rasa: FakeRasa
) -> None:
    client, app = await make_gateway()
    fake_rasa.replies = [HANDOFF_REQUEST]
    await say(client, "get me a human")
    sent_to_rasa = len(fake_rasa.received)
    events = queue_of(app).subscribe()

    first = await say(client, "it's about SO-100123, it never arrived")
    later = [await say(client, text) for text in ("hello?", "/order_status", "where is my order")]

    assert first == [say_text("notice.waiting_ack", "en")]  # the one acknowledgement
    assert later == [[], [], []]  # then the bot says nothing
    assert len(fake_rasa.received) == sent_to_rasa == 1
    seen = [(await events.get(timeout=2)) for _ in range(4)]
    assert [e["type"] for e in seen] == ["message"] * 4
    assert [e["message"]["text"] for e in seen][:2] == [
        "it's about SO-100123, it never arrived",
        "hello?",
    ]
    transcript = await queue_of(app).transcript(REST_1)
    assert [e["text"] for e in transcript if e["role"] == "user"][-1] == "where is my order"


async def test_no_acknowledgement_once_an_agent_has_joined(
    make_gateway: MakeGateway, fake_rasa: FakeRasa
) -> None:
    client, app = await make_gateway()
    fake_rasa.replies = [HANDOFF_REQUEST]
    await say(client, "get me a human")
    handoff = await queue_of(app).open_for(REST_1)
    assert handoff is not None and await queue_of(app).claim(handoff.id, "alice")

    assert await say(client, "hi alice") == [
        "alice from our team has joined the conversation and will reply here."
    ]  # what the agent side sent while the client was away, and nothing from the bot
    assert await say(client, "are you there?") == []


async def test_messages_reach_the_agent_side_while_rasa_is_down(
    make_gateway: MakeGateway, fake_rasa: FakeRasa
) -> None:
    client, app = await make_gateway()
    fake_rasa.replies = [HANDOFF_REQUEST]
    await say(client, "get me a human")
    fake_rasa.up = False
    events = queue_of(app).subscribe()

    replies = await say(client, "still there? my order is late")

    assert replies == [say_text("notice.waiting_ack", "en")]
    event = await events.get(timeout=2)
    assert event["message"]["text"] == "still there? my order is late"


async def test_talk_to_a_person_button_escalates_without_rasa_even_when_rasa_is_down(
    make_gateway: MakeGateway, fake_rasa: FakeRasa
) -> None:
    client, app = await make_gateway()
    fake_rasa.up = False
    fake_rasa.slot_values = {"invoice_number": "INV-200341"}

    replies = await say(client, "/request_human")

    assert replies == [say_text("notice.escalated_open", "en")]
    handoff = await queue_of(app).open_for(REST_1)
    assert handoff is not None
    assert (handoff.trigger.rule, handoff.trigger.score) == ("user_request", 1.0)
    assert fake_rasa.received == []


async def test_slots_of_a_gateway_escalation_come_from_rasas_tracker(
    make_gateway: MakeGateway, fake_rasa: FakeRasa, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "a-verification-secret-for-tests"
    monkeypatch.setenv("VERIFICATION_SECRET", secret)
    verified = Verification(REST_1, 7, frozenset({"email"}), frozenset({"INV-200341"}),
                            time.time() + 600)  # fmt: skip
    client, app = await make_gateway()
    fake_rasa.slot_values = {
        "verification": sign_verification(verified, secret=secret.encode()),
        "invoice_number": "INV-200341",
        "order_number": "SO-100999",
    }

    await say(client, "/request_human")

    handoff = await queue_of(app).open_for(REST_1)
    assert handoff is not None
    assert handoff.slots == {"verified_customer_id": 7, "verified_records": ["INV-200341"],
                             "unverified_order_number": "SO-100999"}  # fmt: skip
    assert "verified customer 7, invoice INV-200341 (verified)" in handoff.summary
    assert "order SO-100999 (NOT verified: do not disclose)" in handoff.summary


async def test_a_plain_verified_customer_slot_in_the_tracker_is_not_believed(
    make_gateway: MakeGateway, fake_rasa: FakeRasa
) -> None:
    client, app = await make_gateway()
    # What `/intent{"verified_customer_id": 7}` would leave in the tracker.
    fake_rasa.slot_values = {"verified_customer_id": 7, "invoice_number": "INV-200341"}

    await say(client, "/request_human")

    handoff = await queue_of(app).open_for(REST_1)
    assert handoff is not None
    assert handoff.slots == {"unverified_invoice_number": "INV-200341"}
    assert "verified customer" not in handoff.summary
    assert "invoice INV-200341 (NOT verified: do not disclose)" in handoff.summary


@pytest.mark.parametrize(
    ("text", "rule", "score", "queue", "priority"),
    [
        ("My solicitor will be in touch about SO-100123", "sensitive_topic:legal_threat", 1.0,
         "customers", 3),
        ("I want to make a formal complaint", "sensitive_topic:complaint", 1.0, "customers", 2),
        ("please refund the £1,250 we paid", "sensitive_topic:large_refund", 1.0, "customers", 2),
        ("refund of $700 please", "sensitive_topic:large_refund", 0.538, "customers", 2),
        ("Please delete my personal data", "sensitive_topic:data_deletion", 1.0, "privacy", 2),
    ],
    ids=["legal", "complaint", "refund-gbp", "refund-usd-just-over", "gdpr"],
)  # fmt: skip
async def test_sensitive_topics_escalate_before_rasa_with_rule_and_score(
    make_gateway: MakeGateway,
    fake_rasa: FakeRasa,
    text: str,
    rule: str,
    score: float,
    queue: str,
    priority: int,
) -> None:
    client, app = await make_gateway()

    replies = await say(client, text)

    handoff = await queue_of(app).open_for(REST_1)
    assert handoff is not None
    assert (handoff.trigger.rule, handoff.trigger.score) == (rule, score)
    assert (handoff.queue, handoff.priority) == (queue, priority)
    assert fake_rasa.received == [] and replies == [say_text("notice.escalated_open", "en")]


@pytest.mark.parametrize(
    "text",
    ["refund of £300 please", "how do I make a complaint?", "Can I speak to Sue in accounts?"],
    ids=["refund-under-limit", "complaint-question", "colleague-called-sue"],
)
async def test_near_misses_of_sensitive_topics_go_to_rasa(
    make_gateway: MakeGateway, fake_rasa: FakeRasa, text: str
) -> None:
    client, app = await make_gateway()

    await say(client, text)

    assert await queue_of(app).open_for(REST_1) is None
    assert [m.text for m in fake_rasa.received] == [text]


async def test_an_angry_message_escalates_with_the_classifiers_score(
    make_gateway: MakeGateway, fake_rasa: FakeRasa
) -> None:
    client, app = await make_gateway()

    await say(client, "thanks, where is order SO-100123?")
    await say(client, "This is the THIRD time I've asked, you are completely useless!!")

    handoff = await queue_of(app).open_for(REST_1)
    assert handoff is not None and handoff.trigger.rule == "frustration"
    assert handoff.trigger.score is not None and handoff.trigger.score >= 0.65
    assert "frustration" in handoff.trigger.detail and "THIRD time" in handoff.trigger.detail
    assert len(fake_rasa.received) == 1


async def test_hand_back_asks_for_a_rating_stores_it_and_the_bot_answers_again(
    make_gateway: MakeGateway, fake_rasa: FakeRasa
) -> None:
    client, app = await make_gateway()
    queue = queue_of(app)
    await say(client, "/request_human")
    handoff = await queue.open_for(REST_1)
    assert handoff is not None
    await queue.agent_reply(handoff.id, "alice", "Your order ships today.")
    await queue.resolve(handoff.id, "alice", note="order chased with the warehouse")

    pending = (await client.get("/api/messages/rest-1/pending")).json()["messages"]
    rating = await say(client, "4")
    fake_rasa.replies = [OutgoingMessage(text="WID-1001: 40 in stock")]
    answer = await say(client, "is WID-1001 in stock?")

    assert [m["text"] for m in pending][1:] == [
        "Your order ships today.",
        notices_back("alice"),
    ]
    assert [b["payload"] for b in pending[-1]["buttons"]] == [f"/csat {n}" for n in range(1, 6)]
    assert rating == [notices.rating_thanks(4)]
    assert await queue.csat(handoff.id) == 4
    assert answer == ["WID-1001: 40 in stock"]
    assert [m.text for m in fake_rasa.received] == ["is WID-1001 in stock?"]  # not the "4"
    [(conversation, events)] = fake_rasa.appended
    note = next(e for e in events if e.get("name") == "handoff_note")
    assert conversation == REST_1 and note["value"].endswith(
        "resolved by alice: order chased with the warehouse"
    )


def notices_back(agent: str) -> str:

    return say_text("notice.back_to_bot", "en", agent=agent)


async def test_a_question_instead_of_a_rating_goes_to_rasa_and_ends_the_rating(
    make_gateway: MakeGateway, fake_rasa: FakeRasa
) -> None:
    client, app = await make_gateway()
    queue = queue_of(app)
    await say(client, "/request_human")
    handoff = await queue.open_for(REST_1)
    assert handoff is not None
    await queue.resolve(handoff.id, "alice")

    await say(client, "where is my order")
    await say(client, "5")

    assert [m.text for m in fake_rasa.received] == ["where is my order", "5"]
    assert await queue.csat(handoff.id) is None


async def test_out_of_hours_the_user_is_told_when_the_team_is_back_and_can_leave_a_message(
    make_gateway: MakeGateway,
) -> None:
    client, app = await make_gateway()
    queue = queue_of(app)
    queue.hours = BusinessHours()
    queue.clock = lambda: SATURDAY_NOON

    escalated = await say(client, "/request_human")
    ack = await say(client, "My order SO-100123 came damaged, call me on 0161 555 0199")
    quiet = await say(client, "thanks")

    assert escalated == [
        say_text(
            "notice.escalated_closed",
            "en",
            hours="Monday to Friday, 08:00-18:00 UK time",
            back="on Monday at 08:00",
        )
    ]
    assert ack == [say_text("notice.waiting_ack_closed", "en", back="on Monday at 08:00")]
    assert quiet == []
    handoff = await queue.open_for(REST_1)
    assert handoff is not None and handoff.available is False
    # Monday: an agent claims and answers; the reply waits for the REST client.
    await queue.agent_reply(handoff.id, "alice", "Sorry about that, a replacement is on its way.")
    pending = (await client.get("/api/messages/rest-1/pending")).json()["messages"]
    assert pending[-1]["text"] == "Sorry about that, a replacement is on its way."
    assert (await client.get("/api/messages/rest-1/pending")).json() == {"messages": []}


async def test_in_hours_with_nobody_online_the_user_is_told_so(make_gateway: MakeGateway) -> None:
    client, _ = await make_gateway(online=0)

    assert await say(client, "/request_human") == [
        say_text("notice.escalated_no_agent", "en", phone=notices.PHONE)
    ]


async def test_pending_agent_replies_come_first_in_the_reply_to_the_next_post(
    make_gateway: MakeGateway,
) -> None:
    client, app = await make_gateway()
    queue = queue_of(app)
    await say(client, "/request_human")
    handoff = await queue.open_for(REST_1)
    assert handoff is not None
    await queue.agent_reply(handoff.id, "alice", "Hi, Alice here.")

    replies = await say(client, "hi")

    assert replies[-1] == "Hi, Alice here."


async def test_pending_rejects_a_bad_sender_id(make_gateway: MakeGateway) -> None:
    client, _ = await make_gateway()

    response = await client.get("/api/messages/" + "x" * 300 + "/pending")

    assert response.status_code == 400 and "sender_id" in response.json()["error"]


async def test_slack_staff_are_escalated_to_the_staff_queue(gateway_db: str) -> None:
    store = GatewayStore(gateway_db)
    queue = HandoffQueue(store, hours=ALWAYS_OPEN)
    turns = Turns(
        store=store, limiter=RateLimiter(per_minute=60, burst=20), max_chars=2000,
        queue=queue, detector=TriggerDetector(),
    )  # fmt: skip
    turns.rasa = FakeRasa()

    await turns.handle(IncomingMessage("slack:T1:U1", "slack", "/request_human", staff=True))

    handoff = await queue.open_for("slack:T1:U1")
    assert handoff is not None and handoff.queue == "staff"


async def test_a_failing_trigger_never_costs_the_user_their_answer(gateway_db: str) -> None:
    def broken(text: str) -> float:
        raise RuntimeError("model file corrupt")

    store = GatewayStore(gateway_db)
    turns = Turns(
        store=store, limiter=RateLimiter(per_minute=60, burst=20), max_chars=2000,
        queue=HandoffQueue(store), detector=TriggerDetector(frustration=broken),
    )  # fmt: skip
    turns.rasa = rasa = FakeRasa()

    replies = await turns.handle(IncomingMessage("rest-1", "rest", "where is my order?"))

    assert [r.text for r in replies] == ["hello"] and len(rasa.received) == 1


async def test_a_frustration_streak_escalates_on_the_second_message(gateway_db: str) -> None:
    scores = {"hmm, the delivery is late again": 0.55, "still no sign of it, not great": 0.58}
    store = GatewayStore(gateway_db)
    queue = HandoffQueue(store, hours=ALWAYS_OPEN)
    turns = Turns(
        store=store, limiter=RateLimiter(per_minute=60, burst=20), max_chars=2000, queue=queue,
        detector=TriggerDetector(frustration=lambda t: scores.get(t, 0.0)),
    )  # fmt: skip
    turns.rasa = FakeRasa()

    for text in scores:
        await turns.handle(IncomingMessage("rest-1", "rest", text))

    handoff = await queue.open_for("rest-1")
    assert handoff is not None and handoff.trigger.rule == "frustration"
    assert "0.55 then 0.58" in handoff.trigger.detail


async def test_with_handoff_switched_off_every_message_goes_to_rasa(
    fake_rasa: FakeRasa, tmp_path: Path
) -> None:
    settings = dataclasses.replace(
        SETTINGS, gateway_db=str(tmp_path / "off.db"), handoff=HandoffSettings(enabled=False)
    )
    app = create_app(
        settings, db_check=lambda: True, rasa_client=fake_rasa, transport=actions_transport()
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gw.test"
        ) as client,
    ):
        await say(client, "/request_human")
        pending = await client.get("/api/messages/rest-1/pending")

    assert app.state.handoff_queue is None
    assert [m.text for m in fake_rasa.received] == ["/request_human"]
    assert pending.json() == {"messages": []}


async def test_a_chinese_conversation_gets_the_handoff_notices_in_chinese(
    make_gateway: MakeGateway, fake_rasa: FakeRasa
) -> None:
    fake_rasa.replies = [OutgoingMessage(text="您好！请问有什么可以帮您？")]
    client, app = await make_gateway()
    queue = queue_of(app)
    queue.hours = BusinessHours()
    queue.clock = lambda: SATURDAY_NOON

    await say(client, "你好")
    escalated = await say(client, "/request_human")  # a button: no language of its own
    ack = await say(client, "我的订单 SO-100123 坏了，请打 0161 555 0199 联系我")

    assert escalated == [
        say_text(
            "notice.escalated_closed", "zh",
            hours="周一至周五、08:00-18:00 英国时间", back="周一 08:00",
        )
    ]  # fmt: skip
    assert escalated[0].startswith("我们的团队目前不在线（工作时间：周一至周五")
    assert ack == [say_text("notice.waiting_ack_closed", "zh", back="周一 08:00")]
    handoff = await queue.open_for(REST_1)
    assert handoff is not None
    assert await queue.claim(handoff.id, "alice")
    await queue.resolve(handoff.id, "alice")
    pending = (await client.get("/api/messages/rest-1/pending")).json()["messages"]
    assert pending[-1]["text"] == say_text("notice.back_to_bot", "zh", agent="alice")
    assert [b["title"] for b in pending[-1]["buttons"]] == ["1 很差", "2", "3", "4", "5 很好"]
    rated = await say(client, "/csat 5")
    assert rated == ["感谢您给这次服务打了 5 分（满分 5 分）。还有什么可以帮您？"]


def test_a_message_that_cannot_be_answered_is_explained_in_its_own_language() -> None:
    from connectors.errors import InvalidMessage, RateLimited
    from connectors.turns import user_notice

    limited = RateLimited("web:x", 2.4)
    assert user_notice(limited, "订单到哪了") == (
        "您发送消息的速度太快了，我来不及回答。请等待 2 秒后再试。"
    )
    assert user_notice(limited, "where is it").startswith("You're sending messages faster")
    assert user_notice(InvalidMessage("text must not be empty"), "") == (
        "Sorry, I can't read that message: text must not be empty."
    )
