"""Queue events across gateway replicas: two queues on one database act as two replicas."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import make_url

from connectors.handoff.queue import HandoffQueue, QueueEvent, Subscription, Trigger
from connectors.handoff.relay import APPLICATION_NAME, CHANNEL
from connectors.store import GatewayStore

ASKED = Trigger("user_request", 0.97, "asked for a person: 'get me a human'")
WAIT = 10.0


@pytest.fixture
async def replicas(gateway_db: str) -> AsyncIterator[tuple[HandoffQueue, HandoffQueue]]:
    first = HandoffQueue(GatewayStore(gateway_db))
    second = HandoffQueue(GatewayStore(gateway_db))
    for queue in (first, second):
        await queue.relay.start()
    yield first, second
    for queue in (first, second):
        await queue.relay.stop()


async def next_event(events: Subscription, kind: str) -> QueueEvent:
    while True:
        event = await events.get(timeout=WAIT)
        if event["type"] == kind:
            return event


async def quiet(events: Subscription, seconds: float = 0.5) -> list[QueueEvent]:
    seen = []
    try:
        while True:
            seen.append(await events.get(timeout=seconds))
    except TimeoutError:
        return seen


@pytest.mark.integration
async def test_an_agent_on_one_replica_sees_what_happens_on_the_other(
    replicas: tuple[HandoffQueue, HandoffQueue],
) -> None:
    first, second = replicas
    if not second.relay.enabled:
        pytest.skip("SQLite: one gateway process, nothing to relay (see the test below)")
    watching = second.subscribe()

    handoff = await first.escalate("web:a", "web", ASKED)
    created = await next_event(watching, "created")
    transcript_id = await first.store.append_user("web:a", "are you there?")
    await first.user_message(handoff, transcript_id)
    message = await next_event(watching, "message")
    assert await first.claim(handoff.id, "alice")
    claimed = await next_event(watching, "claimed")
    await first.resolve(handoff.id, "alice", "done")
    resolved = await next_event(watching, "resolved")

    assert created["handoff"] == handoff
    assert message["message"]["text"] == "are you there?"
    assert [e["text"] for e in claimed["pending"]] == ["are you there?"]
    assert claimed["handoff"].agent == "alice"
    assert resolved["handoff"].status == "resolved" and resolved["handoff"].note == "done"
    assert await quiet(watching) == []  # each event once


@pytest.mark.integration
async def test_events_of_this_replica_are_not_delivered_twice_and_local_followers_skip_others(
    replicas: tuple[HandoffQueue, HandoffQueue],
) -> None:
    first, second = replicas
    mine = first.subscribe()
    local = second.subscribe(local_only=True)

    await first.escalate("web:a", "web", ASKED)
    await second.escalate("web:b", "web", ASKED)

    seen_first = [e["handoff"].conversation_id for e in await quiet(mine, 1.0)]
    seen_local = [e["handoff"].conversation_id for e in await quiet(local, 1.0)]
    expected = ["web:a", "web:b"] if first.relay.enabled else ["web:a"]
    assert sorted(seen_first) == expected
    assert seen_local == ["web:b"]


@pytest.mark.integration
async def test_twenty_handoffs_opened_at_once_on_both_replicas_reach_each_side_in_order(
    replicas: tuple[HandoffQueue, HandoffQueue],
) -> None:
    first, second = replicas
    if not first.relay.enabled:
        pytest.skip("SQLite: one gateway process")
    watch_first, watch_second = first.subscribe(), second.subscribe()

    await asyncio.gather(
        *((first if n % 2 else second).escalate(f"web:{n}", "web", ASKED) for n in range(20))
    )

    for watching in (watch_first, watch_second):
        seen = [e["handoff"].id for e in await quiet(watching, 1.5) if e["type"] == "created"]
        assert sorted(seen) == list(range(1, 21))


@pytest.mark.integration
async def test_a_lost_listening_connection_is_made_up_for(
    replicas: tuple[HandoffQueue, HandoffQueue], gateway_db: str
) -> None:
    first, second = replicas
    if not second.relay.enabled:
        pytest.skip("SQLite: one gateway process")
    watching = second.subscribe()
    # PostgreSQL restarting ends every connection; here only the listeners'.
    plain = make_url(gateway_db).render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(plain, autocommit=True) as admin:
        killed = await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND datname = %s",
            (APPLICATION_NAME, make_url(gateway_db).database),
        )
        assert len(await killed.fetchall()) == 2

    await first.escalate("web:a", "web", ASKED)

    created = await next_event(watching, "created")
    assert created["handoff"].conversation_id == "web:a"


@pytest.mark.integration
async def test_the_events_table_holds_ids_and_the_other_replica_reads_the_rest(
    replicas: tuple[HandoffQueue, HandoffQueue],
) -> None:
    first, second = replicas
    if not second.relay.enabled:
        pytest.skip("SQLite: one gateway process, nothing to relay")
    watching = second.subscribe()
    personal = ["Jane", "jane.roe@example.com", "918273", "SO-100123", "SO-100777",
                "Blue Widget", "7946 0958"]  # fmt: skip

    await first.store.append_user("web:p", "I'm Jane Roe (jane.roe@example.com), SO-100777")
    handoff = await first.escalate(
        "web:p", "web", ASKED,
        slots={"verified_customer_id": 918273, "verified_records": ["SO-100123"],
               "order_number": "SO-100777", "product": "Blue Widget"},
    )  # fmt: skip
    phone = await first.store.append_user("web:p", "call me on +44 20 7946 0958")
    await first.user_message(handoff, phone)
    assert await first.claim(handoff.id, "alice")
    await first.agent_reply(handoff.id, "alice", "Thanks Jane, SO-100777 is on its way")
    await first.resolve(handoff.id, "alice", "told Jane Roe about SO-100777")
    created = await next_event(watching, "created")
    message = await next_event(watching, "message")
    claimed = await next_event(watching, "claimed")
    reply = await next_event(watching, "message")
    resolved = await next_event(watching, "resolved")

    rows = [json.loads(body) for (body,) in first.store._query(
        "SELECT body FROM handoff_events ORDER BY id", ())]  # fmt: skip
    assert rows == [
        {"type": "created", "handoff_id": handoff.id},
        {"type": "message", "handoff_id": handoff.id, "message_id": phone},
        {"type": "claimed", "handoff_id": handoff.id, "pending_ids": [phone]},
        {"type": "message", "handoff_id": handoff.id, "message_id": phone + 2},
        {"type": "resolved", "handoff_id": handoff.id},
    ]  # after the phone number: the "joined" notice, then the reply
    assert handoff.slots["verified_customer_id"] == 918273 and "Jane" in handoff.summary
    assert not [value for value in personal for row in rows if value in json.dumps(row)]
    # Read back from the queue's tables on the receiving side: as they are now.
    assert created["handoff"].slots == handoff.slots
    assert created["handoff"].summary == handoff.summary
    assert message["message"]["text"] == "call me on +44 20 7946 0958"
    assert [e["text"] for e in claimed["pending"]] == ["call me on +44 20 7946 0958"]
    assert reply["message"]["text"] == "Thanks Jane, SO-100777 is on its way"
    assert reply["message"]["role"] == "agent" and reply["message"].get("agent") == "alice"
    assert resolved["handoff"].note == "told Jane Roe about SO-100777"


@pytest.mark.integration
async def test_a_row_holding_a_whole_event_as_older_versions_wrote_it_is_skipped(
    replicas: tuple[HandoffQueue, HandoffQueue], caplog: pytest.LogCaptureFixture
) -> None:
    first, second = replicas
    if not second.relay.enabled:
        pytest.skip("SQLite: one gateway process, nothing to relay")
    caplog.set_level(logging.INFO, logger="connectors")
    watching = second.subscribe()
    handoff = await first.escalate("web:a", "web", ASKED)
    assert (await next_event(watching, "created"))["handoff"] == handoff

    old = {"type": "updated", "handoff": dataclasses.asdict(handoff)}
    with first.store.transaction() as db:
        db.execute(
            "INSERT INTO handoff_events (origin, body, created_at) VALUES (?, ?, ?)",
            ("an-older-replica", json.dumps(old), handoff.created_at),
        )
        db.execute(f"NOTIFY {CHANNEL}")
    await first.escalate("web:b", "web", ASKED)

    seen = [(e["type"], e["handoff"].conversation_id) for e in await quiet(watching, 1.0)]
    assert seen == [("created", "web:b")]
    assert "is no event reference; skipped" in caplog.text


async def test_with_sqlite_nothing_is_relayed(tmp_path: Any) -> None:
    queue = HandoffQueue(GatewayStore(tmp_path / "gateway.db"))
    await queue.relay.start()

    assert not queue.relay.enabled
    await queue.escalate("web:a", "web", ASKED)
    assert queue.store._query("SELECT COUNT(*) FROM handoff_events", ()) == [(0,)]
