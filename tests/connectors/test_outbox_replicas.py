"""Gateway replicas sharing one outbox: every message goes out exactly once and in order per
conversation, whichever replica sends it; a replica that dies or is slow loses its claims to
the other one, one whose clock is off does not take claims that hold, and a failed send is
retried without overtaking."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import anyio
import pytest

from connectors.database import Database
from connectors.handoff import delivery as delivery_module
from connectors.handoff.delivery import CLAIM_BATCH, CLAIM_SECONDS, Delivery, Sender
from connectors.messages import OutgoingMessage
from connectors.store import GatewayStore

CHANNEL = "telegram"
CONVERSATIONS = 20
MESSAGES = 5
START = 1_900_000_000.0


class Clock:
    """A clock both replicas read; tests move it."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def database_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The database's clock, which times the claims, as a Clock the test moves."""
    clock = Clock()
    monkeypatch.setattr(Database, "now", lambda _database: clock())
    return clock


class Channel:
    """One channel as every replica sees it: what reached the user, in the order it did."""

    def __init__(self, *, seed: int = 16) -> None:
        self.sent: list[tuple[str, str, str]] = []  # (replica, conversation, text)
        self._random = random.Random(seed)

    def sender(self, replica: str, *, before: Callable[[str, str], None] | None = None) -> Sender:
        """A sender that records what it sends after a short random wait; ``before`` runs
        first with the conversation and text (it may raise, like a refused send)."""

        async def send(conversation: str, messages: list[OutgoingMessage]) -> None:
            for message in messages:
                text = message.text or ""
                if before is not None:
                    before(conversation, text)
                await asyncio.sleep(self._random.uniform(0, 0.002))
                self.sent.append((replica, conversation, text))
                await asyncio.sleep(self._random.uniform(0, 0.002))

        return send

    def texts(self, conversation: str) -> list[str]:
        return [text for _, sent_to, text in self.sent if sent_to == conversation]


def conversation(index: int) -> str:
    return f"telegram:{1000 + index}"


def text(index: int, number: int) -> str:
    return f"{index}:{number}"


def replicas(
    gateway_db: str, channel: Channel, clock: Callable[[], float] | None = None
) -> tuple[Delivery, Delivery]:
    """Two replicas, each with its own store on the one database and the channel's sender."""
    clock = clock or Clock()
    first = Delivery(GatewayStore(gateway_db), clock=clock, base_delay=0.0)
    second = Delivery(GatewayStore(gateway_db), clock=clock, base_delay=0.0)
    first.register(CHANNEL, channel.sender("a"))
    second.register(CHANNEL, channel.sender("b"))
    return first, second


def fill(
    delivery: Delivery, conversations: int = CONVERSATIONS, *, interleaved: bool = True
) -> None:
    """``MESSAGES`` messages for each conversation, the conversations interleaved or one
    after another."""
    order = [(index, number) for number in range(MESSAGES) for index in range(conversations)]
    if not interleaved:
        order.sort()
    for index, number in order:
        message = OutgoingMessage(text=text(index, number))
        delivery._insert(conversation(index), CHANNEL, [message], delivery.clock())


def assert_each_sent_once_in_order(channel: Channel, conversations: int = CONVERSATIONS) -> None:
    for index in range(conversations):
        expected = [text(index, number) for number in range(MESSAGES)]
        assert channel.texts(conversation(index)) == expected, conversation(index)
    assert len(channel.sent) == conversations * MESSAGES


async def drain(delivery: Delivery) -> int:
    """Flush as a replica's retry loop does until nothing is pending; count what it sent."""
    delivered = 0
    with anyio.fail_after(60):
        while await delivery.pending():
            flushed = await delivery.flush()
            delivered += flushed
            if not flushed:
                await asyncio.sleep(0.005)  # the other replica holds what is left
    return delivered


@pytest.mark.parametrize("batch", [7, CLAIM_BATCH], ids=["batch-7", "batch-default"])
async def test_replicas_flushing_side_by_side_send_each_message_once_in_order(
    gateway_db: str, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    monkeypatch.setattr(delivery_module, "CLAIM_BATCH", batch)
    channel = Channel()
    first, second = replicas(gateway_db, channel)
    fill(first)

    delivered = await asyncio.gather(drain(first), drain(second), drain(first), drain(second))

    assert_each_sent_once_in_order(channel)
    assert sum(delivered) == CONVERSATIONS * MESSAGES
    senders = Counter(replica for replica, _, _ in channel.sent)
    assert set(senders) == {"a", "b"}, senders  # they did work side by side


@pytest.mark.parametrize("count", [2, 4], ids=["2-replicas", "4-replicas"])
def test_replicas_in_threads_of_their_own_send_each_message_once_in_order(
    gateway_db: str, monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    monkeypatch.setattr(delivery_module, "CLAIM_BATCH", 5)
    channel = Channel()
    clock = Clock()
    deliveries = [Delivery(GatewayStore(gateway_db), clock=clock) for _ in range(count)]
    for number, delivery in enumerate(deliveries):
        delivery.register(CHANNEL, channel.sender(f"r{number}"))
    fill(deliveries[0])

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(asyncio.run, drain(delivery)) for delivery in deliveries]
        delivered = [future.result(timeout=120) for future in futures]

    assert_each_sent_once_in_order(channel)
    assert sum(delivered) == CONVERSATIONS * MESSAGES


async def test_a_dead_replicas_claims_lapse_and_the_other_sends_its_messages(
    gateway_db: str, database_clock: Clock
) -> None:
    clock, channel = database_clock, Channel()  # the replicas' clocks agree with it
    dead, alive = replicas(gateway_db, channel, clock)
    fill(dead, conversations=3)
    claimed = await dead.store._run(dead._claim, None, True)  # then the replica is killed
    assert len(claimed) == 3 * MESSAGES

    assert await alive.flush(force=True) == 0  # the claims still hold
    clock.now += CLAIM_SECONDS + 1
    assert await alive.flush() == 3 * MESSAGES

    assert_each_sent_once_in_order(channel, conversations=3)
    assert {replica for replica, _, _ in channel.sent} == {"b"}
    assert await alive.pending() == 0


async def test_a_slow_replica_leaves_the_messages_whose_claim_lapsed_to_the_other(
    gateway_db: str, database_clock: Clock
) -> None:
    """Each send takes 100 s of the clock: the claims on the second conversation lapse while
    the first is sent, the other replica takes it over, and the slow one must not send it
    again when it gets there."""
    clock, channel = database_clock, Channel()
    slow, other = replicas(gateway_db, channel, clock)
    took_over: list[int] = []

    async def slow_send(conversation: str, messages: list[OutgoingMessage]) -> None:
        clock.now += CLAIM_SECONDS * 5 / 6
        await send(conversation, messages)
        if len(channel.sent) == 2:  # 200 s after the claim, amid the first conversation
            took_over.append(await other.flush())

    send = channel.sender("a")
    slow.register(CHANNEL, slow_send)
    fill(slow, conversations=2, interleaved=False)

    await slow.flush()

    assert took_over == [MESSAGES]  # the whole second conversation
    assert_each_sent_once_in_order(channel, conversations=2)
    assert {c for replica, c, _ in channel.sent if replica == "a"} == {conversation(0)}
    assert await slow.pending() == 0


@pytest.mark.parametrize("skewed", ["holder", "other"], ids=["holder-behind", "other-ahead"])
async def test_a_replica_whose_clock_is_off_does_not_take_claims_that_still_hold(
    gateway_db: str, skewed: str
) -> None:
    """The replicas' clocks disagree by more than a claim lasts: the one holding the claims
    runs behind, or the other runs ahead. While the holder sends, the other flushes and must
    find nothing to send: the claims are timed by the database's clock."""
    channel = Channel()
    skew = 2 * CLAIM_SECONDS
    holder_clock, other_clock = {
        "holder": (lambda: time.time() - skew, time.time),
        "other": (time.time, lambda: time.time() + skew),
    }[skewed]
    holder = Delivery(GatewayStore(gateway_db), clock=holder_clock, base_delay=0.0)
    other = Delivery(GatewayStore(gateway_db), clock=other_clock, base_delay=0.0)
    other.register(CHANNEL, channel.sender("b"))
    taken: list[int] = []

    async def send_while_the_other_flushes(
        conversation: str, messages: list[OutgoingMessage]
    ) -> None:
        taken.append(await other.flush(force=True))
        await send(conversation, messages)

    send = channel.sender("a")
    holder.register(CHANNEL, send_while_the_other_flushes)
    fill(holder, conversations=2)

    delivered = await holder.flush(force=True)

    assert taken == [0] * (2 * MESSAGES)  # every time, the other found them all claimed
    assert delivered == 2 * MESSAGES
    assert_each_sent_once_in_order(channel, conversations=2)
    assert {replica for replica, _, _ in channel.sent} == {"a"}


async def test_a_failed_send_is_retried_without_the_conversation_overtaking_it(
    gateway_db: str,
) -> None:
    clock, channel = Clock(), Channel()
    first, second = replicas(gateway_db, channel, clock)
    refused: list[str] = []

    def refuse_once(conversation: str, text: str) -> None:
        if text == "0:1" and not refused:
            refused.append(text)
            raise RuntimeError("Telegram did not accept the message")

    first.register(CHANNEL, channel.sender("a", before=refuse_once))
    fill(first, conversations=4)
    assert await first.flush() == 4 * MESSAGES - 4  # all but 0:1 and the rest of its conversation
    assert channel.texts(conversation(0)) == ["0:0"]

    with anyio.fail_after(60):
        for _ in range(50):
            await asyncio.gather(first.flush(), second.flush(), first.flush(), second.flush())
            clock.now += 1
            if await first.pending() == 0:
                break
        else:
            pytest.fail(f"{await first.pending()} messages still pending")

    assert refused == ["0:1"]
    assert_each_sent_once_in_order(channel, conversations=4)
    [(attempts, error)] = first.store._query(
        "SELECT attempts, last_error FROM outbox WHERE body LIKE ?", ('%"0:1"%',)
    )
    assert (attempts, error) == (1, "Telegram did not accept the message")


def test_messages_another_replica_is_claiming_are_skipped_not_waited_for(
    gateway_db: str,
) -> None:
    if not gateway_db.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: no replica claims while another does")
    channel = Channel()
    first, second = replicas(gateway_db, channel)
    fill(first, conversations=2, interleaved=False)

    # The first replica is in the middle of claiming telegram:1000: its rows are locked.
    with ThreadPoolExecutor(max_workers=1) as pool, first.store.database.unlocked() as db:
        db.execute("SELECT id FROM outbox WHERE conversation_id = ? FOR UPDATE", (conversation(0),))
        claim = pool.submit(second._claim, None, True)
        try:
            claimed = claim.result(timeout=5)
        except TimeoutError:
            pytest.fail("the claim waited for rows another replica has locked")

    assert [(row[1], json.loads(row[3])["text"]) for row in claimed] == [
        (conversation(1), text(1, number)) for number in range(MESSAGES)
    ]
