"""`make demo-traffic` without the stack: the conversation plan (the same for a seed, real
customers' own records, the mix the analytics page needs), the pacing under the gateway's
rate limit, one conversation against a scripted gateway, and the message when no gateway
runs."""

from __future__ import annotations

import json
import random
from collections import Counter

import httpx
import pytest

from benchmarks.load.cast import Cast, Item, Person
from benchmarks.load.scripts import DOCUMENT_QUESTIONS, Step
from bot.settings import free_port
from demo.traffic import gateway
from demo.traffic.gateway import (
    GatewayNotRunning,
    Identity,
    Pacer,
    Stats,
    check_gateway,
    client_addresses,
    converse,
)
from demo.traffic.plan import (
    FALLBACK,
    HANDOFF,
    KINDS,
    UNANSWERABLE,
    UNANSWERED,
    DemoConversation,
    plan_traffic,
)

CAST = Cast(
    people=tuple(
        Person(
            f"c{i}@example.com", f"M{i} 1AA", (f"SO-1000{i}0", f"SO-1000{i}1"), (f"INV-2000{i}0",)
        )
        for i in range(10)
    ),  # fmt: skip
    products=(Item("WID-1001", "Blue Steel Widget"), Item("CLE-1007", "Industrial Degreaser 5L")),
)


def test_the_same_seed_gives_the_same_plan_and_another_seed_another() -> None:
    first = plan_traffic(CAST, count=300, seed=5)

    assert plan_traffic(CAST, count=300, seed=5) == first
    assert plan_traffic(CAST, count=300, seed=6) != first


def test_the_plan_has_the_conversations_asked_for_each_its_own_sender() -> None:
    plan = plan_traffic(CAST, count=300, seed=5)

    assert len(plan) == 300
    assert len({c.sender for c in plan}) == 300
    assert plan[0].sender == "demo-5-0000" and plan[-1].sender == "demo-5-0299"


def test_every_kind_of_conversation_the_page_counts_is_there() -> None:
    plan = plan_traffic(CAST, count=300, seed=5)
    kinds = Counter(c.kind for c in plan)
    steps = Counter(step.kind for c in plan for step in c.steps)

    assert set(kinds) == {name for name, _ in KINDS}
    assert steps[UNANSWERED] > 0 and steps[FALLBACK] > 0 and steps[HANDOFF] > 0
    assert {"order", "invoice", "stock_name", "doc", "ask_identity"} <= set(steps)
    asking = sum(c.expects_handoff for c in plan)
    assert 0.08 * 300 <= asking <= 0.3 * 300


def test_unanswerable_questions_are_not_the_documented_ones() -> None:
    plan = plan_traffic(CAST, count=300, seed=5)

    unanswered = {s.text for c in plan for s in c.steps if s.kind == UNANSWERED}

    assert unanswered <= set(UNANSWERABLE)
    assert not unanswered & set(DOCUMENT_QUESTIONS)
    # Two in a row are what makes the bot hand over.
    for conversation in plan:
        if conversation.kind == "unanswered":
            asked = [s for s in conversation.steps if s.kind == UNANSWERED]
            assert conversation.expects_handoff == (len(asked) == 2)


def test_customers_ask_about_their_own_orders_and_prove_it_with_their_own_details() -> None:
    owner = {n: p for p in CAST.people for n in (*p.orders, *p.invoices)}
    plan = plan_traffic(CAST, count=300, seed=5)
    checked = 0

    for conversation in plan:
        steps = list(conversation.steps)
        for asked, proof in zip(steps, steps[1:], strict=False):
            if asked.kind != "ask_identity":
                continue
            number = next(n for n in owner if n in asked.text or n.split("-")[1] in asked.text)
            assert proof.if_asked
            assert proof.text in (owner[number].email, owner[number].postcode)
            checked += 1
    assert checked > 50


def test_ratings_and_agent_delays_are_within_their_ranges() -> None:
    plan = plan_traffic(CAST, count=300, seed=5, agent_delay=(1.0, 4.0))

    ratings = Counter(c.rating for c in plan)
    assert set(ratings) <= {None, 1, 2, 3, 4, 5}
    assert ratings[None] > 0 and ratings[5] > ratings[1]
    assert all(1.0 <= c.agent_delay <= 4.0 for c in plan)
    assert all(c.agent_reply for c in plan)


@pytest.mark.parametrize(
    ("count", "delay", "message"),
    [(0, (1.0, 2.0), "count must be at least 1"), (5, (3.0, 1.0), "agent delay")],
    ids=["no conversations", "delay backwards"],
)
def test_a_plan_that_cannot_be_made_is_refused(
    count: int, delay: tuple[float, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        plan_traffic(CAST, count=count, seed=1, agent_delay=delay)


def test_the_pace_stays_under_the_gateway_rate_limit() -> None:
    now = [100.0]
    pacer = Pacer(48, clock=lambda: now[0])

    waits = [pacer.reserve() for _ in range(4)]
    pacer.back_off(30.0)

    assert waits == [0.0, 1.25, 2.5, 3.75]
    assert pacer.reserve() == 30.0
    now[0] += 100.0
    assert pacer.reserve() == 0.0


def test_each_local_customer_has_its_own_loopback_address_else_one_client() -> None:
    assert client_addresses("http://127.0.0.1:8080", 3) == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    assert client_addresses("http://localhost:8080", 1) == ["127.0.0.2"]
    assert client_addresses("http://127.0.0.1:8080", 3, api_key="k" * 20) == [None]
    assert client_addresses("https://chat.example.com", 3) == [None]


def test_no_gateway_running_is_said_plainly() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(GatewayNotRunning, match="no gateway answers at .* `make run` first"):
        check_gateway(url)


class ScriptedGateway:
    """/api/messages and its pending messages, as the gateway answers a handed-over REST
    customer: asks for an email, answers, hands over, then the rating question."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.limited = 1  # the first message gets a 429 once

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/pending"):
            return httpx.Response(200, json={"messages": [
                {"text": "Hi, that's done.", "buttons": []},
                {"text": "How would you rate the help you got, from 1 (poor) to 5?",
                 "buttons": []},
            ]})  # fmt: skip
        if self.limited:
            self.limited -= 1
            return httpx.Response(429, headers={"Retry-After": "0"}, json={"error": "slow"})
        text = json.loads(request.content)["text"]
        self.received.append(text)
        reply = {
            "where is SO-100010": "Please tell me the email address or postcode.",
            "c1@example.com": "Order SO-100010 is shipped.",
            "get me a human": "I'm passing you to a colleague. A colleague will reply here.",
        }.get(text, "Thanks for rating.")
        return httpx.Response(200, json={"messages": [{"text": reply, "buttons": []}]})


async def test_a_conversation_proves_identity_when_asked_and_rates_after_the_hand_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gateway, "THINK_SECONDS", (0.0, 0.0))
    monkeypatch.setattr(gateway, "POLL_SECONDS", 0.01)
    fake = ScriptedGateway()
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake), base_url="http://gw.test")
    conversation = DemoConversation(
        sender="demo-1-0001",
        kind="handoff",
        steps=(
            Step("ask_identity", "where is SO-100010"),
            Step("order", "c1@example.com", if_asked=True),
            Step("chitchat", "M9 9ZZ", if_asked=True),  # not asked again: not sent
            Step(HANDOFF, "get me a human"),
        ),
        expects_handoff=True,
        agent_reply="Hi, that's done.",
        agent_delay=0.0,
        rating=4,
    )
    stats = Stats()

    async with http:
        await converse(Identity(http, Pacer(6000)), conversation, stats, rate=True,
                       rng=random.Random(1))  # fmt: skip

    assert fake.received == ["where is SO-100010", "c1@example.com", "get me a human", "4"]
    assert (stats.conversations, stats.messages, stats.handed_over, stats.ratings) == (1, 4, 1, 1)
    assert stats.errors == 0
