"""The handoff queue: one transaction per escalation, one winner per claim, nothing lost."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest

from connectors.database import IntegrityError
from connectors.handoff.delivery import Delivery
from connectors.handoff.errors import HandoffConflict, HandoffNotFound, InvalidHandoffInput
from connectors.handoff.hours import BusinessHours
from connectors.handoff.queue import HandoffQueue, QueueEvent, Trigger, csat_buttons
from connectors.messages import OutgoingMessage
from connectors.store import GatewayStore

ASKED = Trigger("user_request", 0.97, "asked for a person: 'get me a human'")
LONDON = dt.timezone(dt.timedelta(0))
# Tuesday 3 November 2026, 10:00 UK time (GMT): inside the default business hours.
TUESDAY_10AM = dt.datetime(2026, 11, 3, 10, 0, tzinfo=LONDON).timestamp()


class FakeTracker:
    """Rasa's tracker API as the queue uses it: slots to read, events appended."""

    def __init__(self, slots: dict[str, Any] | None = None, *, up: bool = True) -> None:
        self.slot_values = slots or {}
        self.appended: list[tuple[str, list[dict[str, Any]]]] = []
        self.up = up

    async def slots(self, conversation_id: str) -> dict[str, Any]:
        if not self.up:
            raise ConnectionError("rasa is down")
        return dict(self.slot_values)

    async def append_events(self, conversation_id: str, events: list[dict[str, Any]]) -> None:
        if not self.up:
            raise ConnectionError("rasa is down")
        self.appended.append((conversation_id, events))


class Recorder:
    """A channel sender that records what it delivered."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, OutgoingMessage]] = []

    async def __call__(self, conversation_id: str, messages: list[OutgoingMessage]) -> None:
        self.sent += [(conversation_id, m) for m in messages]


def make_queue(store: GatewayStore, **options: Any) -> HandoffQueue:
    options.setdefault("clock", lambda: TUESDAY_10AM)
    return HandoffQueue(store, **options)


async def drain(events: Any) -> list[QueueEvent]:
    seen = []
    while True:
        try:
            seen.append(await events.get(timeout=0.05))
        except TimeoutError:
            return seen


async def test_escalate_creates_a_waiting_handoff_and_makes_the_conversation_human_owned(
    gateway_db: str,
) -> None:
    store = GatewayStore(gateway_db)
    queue = make_queue(store, tracker=FakeTracker({"order_number": "SO-100123"}))
    await store.append_user("web:a", "my order SO-100123 never arrived")
    events = queue.subscribe()

    handoff = await queue.escalate("web:a", "web", ASKED)

    assert handoff.status == "waiting" and handoff.trigger == ASKED
    # Nothing verified it: the number is kept, marked, never as a verified fact.
    assert handoff.slots == {"unverified_order_number": "SO-100123"}
    assert "SO-100123 [NOT verified] never arrived" in handoff.summary
    assert "user_request" in handoff.summary
    assert (await queue.ownership("web:a")).owner == "human"
    assert (await queue.ownership("web:a")).handoff_id == handoff.id
    assert [e["type"] for e in await drain(events)] == ["created"]


async def test_escalating_an_open_conversation_again_returns_the_same_handoff(
    gateway_db: str,
) -> None:
    queue = make_queue(GatewayStore(gateway_db))
    events = queue.subscribe()

    results = await asyncio.gather(
        *[queue.escalate("web:a", "web", Trigger("frustration", 0.9, "x")) for _ in range(20)]
    )

    assert len({h.id for h in results}) == 1
    assert len(await queue.list()) == 1
    assert [e["type"] for e in await drain(events)] == ["created"]


async def test_a_failed_ownership_write_leaves_no_handoff_behind(gateway_db: str) -> None:
    store = GatewayStore(gateway_db)
    if store.database.dialect == "sqlite":
        store._execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON conversation_owner "
            "BEGIN SELECT RAISE(ABORT, 'disk full'); END",
            (),
        )
    else:
        store._execute(
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full' "
            "USING ERRCODE = 'check_violation'; END $$ LANGUAGE plpgsql",
            (),
        )
        store._execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON conversation_owner "
            "FOR EACH ROW EXECUTE FUNCTION refuse()",
            (),
        )
    queue = make_queue(store)

    try:
        with pytest.raises(IntegrityError):
            await queue.escalate("web:a", "web", ASKED)

        assert store._query("SELECT COUNT(*) FROM handoffs", ()) == [(0,)]
        assert (await queue.ownership("web:a")).owner == "bot"
    finally:
        if store.database.dialect == "postgresql":
            store._execute("DROP TRIGGER refuse ON conversation_owner", ())
            store._execute("DROP FUNCTION refuse()", ())


async def test_slots_default_to_empty_when_rasa_is_down(gateway_db: str) -> None:
    queue = make_queue(GatewayStore(gateway_db), tracker=FakeTracker({"sku": "X"}, up=False))

    handoff = await queue.escalate("web:a", "web", ASKED)

    assert handoff.slots == {}


async def test_many_concurrent_claims_have_exactly_one_winner(gateway_db: str) -> None:
    queue = make_queue(GatewayStore(gateway_db))
    handoff = await queue.escalate("web:a", "web", ASKED)
    events = queue.subscribe()

    wins = await asyncio.gather(*[queue.claim(handoff.id, f"agent{i}") for i in range(50)])

    assert wins.count(True) == 1
    winner = f"agent{wins.index(True)}"
    assert (await queue.get(handoff.id)).agent == winner  # type: ignore[union-attr]
    assert [e["type"] for e in await drain(events)] == ["claimed"]


def test_claims_from_threads_with_their_own_connections_have_exactly_one_winner(
    tmp_path: Path,
) -> None:
    path = tmp_path / "gateway.db"
    store = GatewayStore(path)
    handoff = asyncio.run(make_queue(store).escalate("web:a", "web", ASKED))
    barrier = threading.Barrier(8)
    results: dict[str, bool] = {}

    def claim(agent: str) -> None:
        own = GatewayStore(path)  # another process would have its own connection too
        queue = make_queue(own)
        barrier.wait()
        results[agent] = asyncio.run(queue.claim(handoff.id, agent))
        own.close()

    threads = [threading.Thread(target=claim, args=(f"agent{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(results) == 8
    assert list(results.values()).count(True) == 1
    stored = store._query("SELECT agent, status FROM handoffs WHERE id = ?", (handoff.id,))
    assert stored == [(next(a for a, won in results.items() if won), "assigned")]


async def test_claiming_again_is_idempotent_and_unknown_or_blank_is_refused(
    gateway_db: str,
) -> None:
    queue = make_queue(GatewayStore(gateway_db))
    handoff = await queue.escalate("web:a", "web", ASKED)

    assert await queue.claim(handoff.id, "alice") is True
    assert await queue.claim(handoff.id, "alice") is True
    assert await queue.claim(handoff.id, "bob") is False
    with pytest.raises(HandoffNotFound):
        await queue.claim(999, "alice")
    with pytest.raises(InvalidHandoffInput, match="must not be empty"):
        await queue.claim(handoff.id, "  ")


async def test_messages_left_while_waiting_reach_the_agent_who_claims(gateway_db: str) -> None:
    store = GatewayStore(gateway_db)
    queue = make_queue(store)
    handoff = await queue.escalate("web:a", "web", ASKED)
    events = queue.subscribe()

    first = await queue.user_message(handoff, await store.append_user("web:a", "hello?"))
    second = await queue.user_message(handoff, await store.append_user("web:a", "anyone?"))
    await queue.claim(handoff.id, "alice")

    assert (first, second) == (True, False)
    seen = await drain(events)
    assert [e["type"] for e in seen] == ["message", "message", "claimed"]
    assert [m["text"] for m in seen[2]["pending"]] == ["hello?", "anyone?"]
    assert await queue.inbox(handoff.id) == []


async def test_agent_reply_is_stored_as_agent_and_delivered_to_the_users_channel(
    gateway_db: str,
) -> None:
    store = GatewayStore(gateway_db)
    delivery = Delivery(store)
    sent = Recorder()
    delivery.register("telegram", sent)
    queue = make_queue(store, delivery=delivery)
    handoff = await queue.escalate("telegram:42", "telegram", ASKED)
    await queue.claim(handoff.id, "alice")

    await queue.agent_reply(handoff.id, "alice", "  Hi, Alice here.  ")

    assert [(c, m.text) for c, m in sent.sent] == [
        ("telegram:42", "alice from our team has joined the conversation and will reply here."),
        ("telegram:42", "Hi, Alice here."),
    ]
    last = (await queue.transcript("telegram:42"))[-1]
    assert (last["role"], last["text"], last.get("agent")) == ("agent", "Hi, Alice here.", "alice")


async def test_agent_reply_to_a_waiting_handoff_claims_it_and_others_are_refused(
    gateway_db: str,
) -> None:
    queue = make_queue(GatewayStore(gateway_db))
    handoff = await queue.escalate("web:a", "web", ASKED)

    await queue.agent_reply(handoff.id, "alice", "On it.")

    assert (await queue.get(handoff.id)).agent == "alice"  # type: ignore[union-attr]
    with pytest.raises(HandoffConflict, match="assigned to alice"):
        await queue.agent_reply(handoff.id, "bob", "Me too")
    with pytest.raises(InvalidHandoffInput, match="must not be empty"):
        await queue.agent_reply(handoff.id, "alice", " \n ")
    with pytest.raises(InvalidHandoffInput, match="at most 4000"):
        await queue.agent_reply(handoff.id, "alice", "x" * 4001)
    await queue.resolve(handoff.id, "alice")
    with pytest.raises(HandoffConflict, match="resolved"):
        await queue.agent_reply(handoff.id, "alice", "one more thing")


async def test_resolve_hands_back_notes_rasa_and_asks_for_a_rating(gateway_db: str) -> None:
    store = GatewayStore(gateway_db)
    tracker = FakeTracker()
    queue = make_queue(store, tracker=tracker)
    handoff = await queue.escalate("rest-1", "rest", ASKED)
    await queue.claim(handoff.id, "alice")
    events = queue.subscribe()

    await queue.resolve(handoff.id, "alice", note="refund approved")
    with pytest.raises(HandoffConflict, match="already resolved"):
        await queue.resolve(handoff.id, "alice", note="twice")

    resolved = await queue.get(handoff.id)
    assert resolved is not None and resolved.status == "resolved"
    assert (resolved.note, resolved.resolved_by) == ("refund approved", "alice")
    ownership = await queue.ownership("rest-1")
    assert (ownership.owner, ownership.csat_handoff_id) == ("bot", handoff.id)
    assert [e["type"] for e in await drain(events)] == ["resolved"]
    [(conversation, rasa_events)] = tracker.appended
    note = next(e for e in rasa_events if e.get("name") == "handoff_note")
    assert conversation == "rest-1" and "resolved by alice: refund approved" in note["value"]
    assert {k: v for k, v in rasa_events[0].items() if k != "timestamp"} == {
        "event": "active_loop",
        "name": None,
    }
    told = (await queue.delivery.take("rest-1"))[-1]
    assert "back to the assistant" in (told.text or "") and told.buttons == csat_buttons()


async def test_resolve_still_hands_back_when_rasa_is_down(gateway_db: str) -> None:
    queue = make_queue(GatewayStore(gateway_db), tracker=FakeTracker(up=False))
    handoff = await queue.escalate("web:a", "web", ASKED)

    await queue.resolve(handoff.id, "alice")

    assert (await queue.ownership("web:a")).owner == "bot"
    with pytest.raises(HandoffNotFound):
        await queue.resolve(404, "alice")


async def test_only_the_agent_holding_a_handoff_can_resolve_it(gateway_db: str) -> None:
    queue = make_queue(GatewayStore(gateway_db))
    handoff = await queue.escalate("web:a", "web", ASKED)
    await queue.claim(handoff.id, "alice")

    with pytest.raises(HandoffConflict, match="assigned to alice"):
        await queue.resolve(handoff.id, "bob", note="not mine")

    current = await queue.get(handoff.id)
    assert current is not None and (current.status, current.agent) == ("assigned", "alice")
    assert (await queue.ownership("web:a")).owner == "human"


async def test_two_agents_resolving_at_once_close_the_handoff_exactly_once(gateway_db: str) -> None:
    queue = make_queue(GatewayStore(gateway_db))
    for index in range(10):
        handoff = await queue.escalate(f"web:{index}", "web", ASKED)
        events = queue.subscribe()

        results = await asyncio.gather(
            queue.resolve(handoff.id, "alice", note="a"),
            queue.resolve(handoff.id, "bob", note="b"),
            return_exceptions=True,
        )

        assert sorted(type(r).__name__ for r in results) == ["HandoffConflict", "NoneType"]
        winner = "alice" if results[0] is None else "bob"
        resolved = await queue.get(handoff.id)
        assert resolved is not None and resolved.resolved_by == winner
        assert resolved.note == winner[0]
        assert [e["type"] for e in await drain(events)] == ["resolved"]
        events.close()


async def test_a_resolve_racing_a_claim_never_closes_the_claimers_handoff(gateway_db: str) -> None:
    queue = make_queue(GatewayStore(gateway_db))
    outcomes = set()
    for index in range(20):
        handoff = await queue.escalate(f"web:{index}", "web", ASKED)

        claimed, resolved = await asyncio.gather(
            queue.claim(handoff.id, "bob"),
            queue.resolve(handoff.id, "alice"),
            return_exceptions=True,
        )

        current = await queue.get(handoff.id)
        assert current is not None
        if claimed is True:
            assert isinstance(resolved, HandoffConflict)
            assert (current.status, current.agent) == ("assigned", "bob")
        else:
            assert claimed is False and resolved is None
            assert (current.status, current.resolved_by) == ("resolved", "alice")
        outcomes.add(current.status)
    assert outcomes <= {"assigned", "resolved"}


async def test_a_rating_is_stored_once_for_the_handoff_it_was_asked_about(gateway_db: str) -> None:
    queue = make_queue(GatewayStore(gateway_db))
    handoff = await queue.escalate("web:a", "web", ASKED)
    await queue.claim(handoff.id, "alice")
    await queue.resolve(handoff.id, "alice")

    rated = await queue.rate("web:a", 4)

    assert rated is not None and rated.id == handoff.id
    assert await queue.csat(handoff.id) == 4
    assert await queue.rate("web:a", 5) is None  # not asked any more
    assert await queue.csat(handoff.id) == 4
    for bad in (0, 6, True):
        with pytest.raises(InvalidHandoffInput, match="from 1 to 5"):
            await queue.rate("web:a", bad)


async def test_list_orders_by_priority_then_age_and_filters_by_status(gateway_db: str) -> None:
    clock = iter(range(100))
    queue = make_queue(GatewayStore(gateway_db), clock=lambda: TUESDAY_10AM + next(clock))
    low = await queue.escalate("web:a", "web", ASKED)
    high = await queue.escalate("web:b", "web", ASKED, priority=3)
    low2 = await queue.escalate("web:c", "web", ASKED)
    await queue.claim(low2.id, "alice")
    await queue.resolve(low.id, "alice")

    assert [h.id for h in await queue.list()] == [high.id, low2.id]
    assert [h.id for h in await queue.list(["waiting"])] == [high.id]
    assert [h.id for h in await queue.list(["resolved"])] == [low.id]
    with pytest.raises(InvalidHandoffInput, match="got 'open'"):
        await queue.list(["open"])  # type: ignore[list-item]


async def test_a_new_handoff_can_open_after_the_last_one_was_resolved(gateway_db: str) -> None:
    queue = make_queue(GatewayStore(gateway_db))
    first = await queue.escalate("web:a", "web", ASKED)
    await queue.resolve(first.id, "alice")

    second = await queue.escalate("web:a", "web", ASKED)

    assert second.id != first.id and (await queue.ownership("web:a")).owner == "human"
    assert (await queue.ownership("web:a")).csat_handoff_id is None


async def test_availability_follows_business_hours_and_agents_online(gateway_db: str) -> None:
    saturday = dt.datetime(2026, 11, 7, 12, 0, tzinfo=LONDON).timestamp()
    store = GatewayStore(gateway_db)

    open_now = await make_queue(store, agents_online=lambda: 2).availability()
    nobody = await make_queue(store).availability()
    weekend = await make_queue(
        store, agents_online=lambda: 2, clock=lambda: saturday
    ).availability()

    assert open_now.reason == "open" and nobody.reason == "no_agent"
    assert weekend.reason == "out_of_hours"
    assert weekend.next_open == dt.datetime(2026, 11, 9, 8, 0, tzinfo=BusinessHours().zone)


async def test_an_agents_online_callable_that_fails_counts_as_nobody(gateway_db: str) -> None:
    def broken() -> int:
        raise RuntimeError("sessions table missing")

    queue = make_queue(GatewayStore(gateway_db), agents_online=broken)

    assert (await queue.availability()).reason == "no_agent"


async def test_restart_while_waiting_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    store = GatewayStore(path)
    queue = make_queue(store)
    await store.append_user("rest-9", "I was charged twice for INV-200001")
    handoff = await queue.escalate("rest-9", "rest", ASKED)
    await queue.user_message(handoff, await store.append_user("rest-9", "are you there?"))
    store.close()

    restarted = make_queue(GatewayStore(path))
    events = restarted.subscribe()
    reopened = await restarted.open_for("rest-9")
    assert reopened == handoff
    assert await restarted.claim(handoff.id, "alice")
    await restarted.agent_reply(handoff.id, "alice", "Refunding the duplicate now.")

    [claimed] = [e for e in await drain(events) if e["type"] == "claimed"]
    assert [m["text"] for m in claimed["pending"]] == ["are you there?"]
    texts = [m.text for m in await restarted.delivery.take("rest-9")]
    assert texts[-1] == "Refunding the duplicate now."


async def test_a_subscriber_on_another_event_loop_gets_events(gateway_db: str) -> None:
    queue = make_queue(GatewayStore(gateway_db))
    received: list[str] = []
    ready = threading.Event()

    def listen() -> None:
        async def run() -> None:
            events = queue.subscribe()
            ready.set()
            received.append((await events.get(timeout=5))["type"])

        asyncio.run(run())

    thread = threading.Thread(target=listen)
    thread.start()
    await asyncio.to_thread(ready.wait, 5)
    await queue.escalate("web:a", "web", ASKED)
    await asyncio.to_thread(thread.join, 10)

    assert received == ["created"]


async def test_customers_see_the_agents_display_name_never_a_platform_id(gateway_db: str) -> None:
    from connectors.agents.auth import AgentAuth
    from connectors.agents.settings import AgentSettings

    store = GatewayStore(gateway_db)
    delivery = Delivery(store)
    sent = Recorder()
    delivery.register("telegram", sent)
    queue = make_queue(store, delivery=delivery)
    auth = AgentAuth(store, AgentSettings())
    auth.add_agent("alice", "a long passphrase", "Alice Moreau")
    queue.public_name = auth.public_name

    first = await queue.escalate("telegram:42", "telegram", ASKED)
    await queue.claim(first.id, "alice")
    second = await queue.escalate("telegram:43", "telegram", ASKED)
    await queue.claim(second.id, "slack:U024BE7LH")
    await queue.resolve(second.id, "slack:U024BE7LH")

    texts = [m.text or "" for _, m in sent.sent]
    assert texts[0].startswith("Alice Moreau from our team has joined")
    assert texts[1].startswith("A colleague from our team has joined")
    assert texts[2].startswith("A colleague has handed you back")
    assert not any("U024BE7LH" in t for t in texts)


async def test_a_message_held_after_another_replica_resolved_goes_to_the_bot(
    gateway_db: str,
) -> None:
    here, there = make_queue(GatewayStore(gateway_db)), make_queue(GatewayStore(gateway_db))
    handoff = await here.escalate("web:a", "web", ASKED)
    await there.resolve(handoff.id, "alice", "sorted")

    held = await here.user_message(handoff, await here.store.append_user("web:a", "thanks!"))

    assert held is None  # the turn path then asks Rasa
    assert here.store._query("SELECT COUNT(*) FROM handoff_inbox", ()) == [(0,)]


async def test_a_reply_racing_a_resolve_on_another_replica_is_refused_and_not_sent(
    gateway_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    here, there = make_queue(GatewayStore(gateway_db)), make_queue(GatewayStore(gateway_db))
    handoff = await here.escalate("web:a", "web", ASKED)
    await here.claim(handoff.id, "alice")
    seen_by_alice = await here.get(handoff.id)  # what her console showed
    await there.resolve(handoff.id, "alice", "sorted")

    async def stale(handoff_id: int) -> Any:
        return seen_by_alice

    monkeypatch.setattr(here, "_require", stale)
    with pytest.raises(HandoffConflict, match="resolved"):
        await here.agent_reply(handoff.id, "alice", "one more thing")

    roles = [e["role"] for e in await here.store.history("web:a")]
    assert "agent" not in roles
    assert here.store._query("SELECT COUNT(*) FROM outbox WHERE body LIKE ?", ("%one more%",)) == [
        (0,)
    ]
