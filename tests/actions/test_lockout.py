"""Failed verification guesses counted per record and per client, across conversations and
across action server replicas, on both backends of the state database (a SQLite file, and
PostgreSQL as replicas share it)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions import verification
from actions.invoices import ValidateUnpaidInvoicesForm
from actions.lockout import (
    CLIENT,
    RECORD,
    Attempt,
    Limit,
    Lock,
    LockoutPolicy,
    LockoutStore,
    lockout_store,
)
from actions.orders import ValidateOrderForm
from actions.verification import not_verified
from envvars import SettingsError
from erp.models import Customer, SalesOrder
from erp.state import LOCKOUT_TABLES, URL_ENV
from i18n.texts import say
from tests.actions.conftest import proof_in, slot_events, texts, tracker
from tests.actions_state import StateBackend, close_process_stores

# 15:27:10 UTC: a record lock (15 min) ends at 15:42:10, shown as "after 15:43 UTC".
T = datetime(2026, 11, 3, 15, 27, 10, tzinfo=UTC).timestamp()
RECORD_LOCKED = (
    "Too many unsuccessful attempts for this order. Please try again after 15:43 UTC, "
    "or ask for a colleague."
)
CLIENT_LOCKED = (
    "Too many unsuccessful attempts. Please try again after 16:28 UTC, or ask for a colleague."
)


@pytest.fixture()
def backend(state_backend: StateBackend, monkeypatch: pytest.MonkeyPatch) -> StateBackend:
    """The test on both backends, the actions' own store (``lockout_store()``) on it too."""
    state_backend.use(monkeypatch)
    return state_backend


@pytest.fixture()
def clock(backend: StateBackend, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The actions' clock, frozen at ``T``; set ``clock[0]`` to move it. The forms' tests
    that use it run on both backends (``backend``)."""
    moment = [T]
    monkeypatch.setattr(verification, "now", lambda: moment[0])
    return moment


def orders_of_different_customers(db: Session, count: int) -> list[tuple[SalesOrder, Customer]]:
    found: dict[int, SalesOrder] = {}
    for order in db.scalars(select(SalesOrder).order_by(SalesOrder.order_number)):
        found.setdefault(order.customer_id, order)
        if len(found) == count:
            break
    return [(order, db.get(Customer, customer_id)) for customer_id, order in found.items()]


async def guess(
    order_number: str, identity: str, *, sender: str, client: str | None
) -> tuple[dict, str]:
    """One verification try in a fresh conversation: the slots it sets and what it says."""
    dispatcher = CollectingDispatcher()
    metadata = {"channel": "rest", "role": "customer", "client": client} if client else None
    result = await ValidateOrderForm().validate_identity(
        identity,
        dispatcher,
        tracker({"order_number": order_number}, sender_id=sender, metadata=metadata),
        {},
    )
    return result, texts(dispatcher)


# --- the store ------------------------------------------------------------------------------


def store(backend: StateBackend, **limits: Limit) -> LockoutStore:
    """A store of its own on the test's backend: another replica, when made twice."""
    policy = LockoutPolicy(
        record=limits.get("record", Limit(5, 900, 900)),
        client=limits.get("client", Limit(10, 3600, 3600)),
    )
    return LockoutStore(backend.engine(), policy)


def wrong(locks: LockoutStore, record: str | None, client: str, now: float) -> Lock | None:
    """One wrong guess: the lock that refused it or that it caused, if any."""
    attempt = locks.begin(record=record, client=client, now=now)
    return attempt if isinstance(attempt, Lock) else locks.fail(attempt, now=now)


def test_the_fifth_failure_within_the_window_locks_the_record(backend: StateBackend) -> None:
    locks = store(backend)
    results = [wrong(locks, "order:SO-1", f"ip:{n}", T + n) for n in range(5)]
    assert results[:4] == [None] * 4
    assert results[4] == Lock(RECORD, T + 4 + 900)
    assert locks.lock_on(record="order:SO-1", client="ip:new", now=T + 10) == results[4]
    assert locks.lock_on(record="order:SO-2", client="ip:new", now=T + 10) is None
    assert locks.lock_on(record="order:SO-1", client="ip:new", now=T + 905) is None


def test_a_locked_record_refuses_to_begin(backend: StateBackend) -> None:
    locks = store(backend)
    for n in range(5):
        wrong(locks, "order:SO-1", f"ip:{n}", T)
    assert locks.begin(record="order:SO-1", client="ip:new", now=T + 60) == Lock(RECORD, T + 900)


def test_failures_older_than_the_window_do_not_count(backend: StateBackend) -> None:
    locks = store(backend)
    for n in range(4):
        wrong(locks, "order:SO-1", f"ip:{n}", T + n)
    assert wrong(locks, "order:SO-1", "ip:9", T + 901) is None


def test_a_withdrawn_attempt_is_no_failure_and_leaves_the_others(backend: StateBackend) -> None:
    locks = store(backend)
    for n in range(4):
        wrong(locks, "order:SO-1", "ip:attacker", T + n)
    for _ in range(10):  # the owner, right every time
        attempt = locks.begin(record="order:SO-1", client="ip:owner", now=T + 5)
        assert not isinstance(attempt, Lock)
        locks.withdraw(attempt)
    assert wrong(locks, "order:SO-1", "ip:attacker", T + 6) == Lock(RECORD, T + 6 + 900)


def test_the_client_is_locked_after_its_own_limit(backend: StateBackend) -> None:
    locks = store(backend)
    for n in range(9):
        assert wrong(locks, f"order:SO-{n}", "ip:a", T + n) is None
    lock = wrong(locks, "order:SO-9", "ip:a", T + 9)
    assert lock == Lock(CLIENT, T + 9 + 3600)
    assert locks.lock_on(record=None, client="ip:a", now=T + 60) == lock
    assert locks.lock_on(record="order:SO-0", client="ip:b", now=T + 60) is None


def test_after_a_lock_the_count_starts_again(backend: StateBackend) -> None:
    locks = store(backend, record=Limit(2, 900, 60))
    wrong(locks, "order:SO-1", "ip:a", T)
    assert wrong(locks, "order:SO-1", "ip:b", T + 1) is not None
    assert wrong(locks, "order:SO-1", "ip:c", T + 62) is None


def test_the_database_holds_no_emails_or_addresses(backend: StateBackend) -> None:
    locks = store(backend, record=Limit(1, 900, 900))
    wrong(locks, "email:jane@example.com", "ip:203.0.113.9", T)
    with locks.engine.connect() as db:
        rows = [row for table in LOCKOUT_TABLES for row in db.execute(select(table))]
    stored = " ".join(str(value) for row in rows for value in row)
    assert len(rows) == 2  # the email's lock and the address's failure, both as digests
    assert "jane@example.com" not in stored and "203.0.113.9" not in stored
    if backend.name == "sqlite":
        path = backend.folder / "actions-state.db"
        raw = path.read_bytes() + b"".join(
            p.read_bytes() for p in path.parent.glob(path.name + "-*")
        )
        assert b"jane@example.com" not in raw and b"203.0.113.9" not in raw
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_a_burst_of_guesses_sent_at_once_gets_only_the_limit_checked(
    backend: StateBackend,
) -> None:
    locks = store(backend)
    begun = await asyncio.gather(
        *(
            asyncio.to_thread(locks.begin, record="order:SO-1", client=f"ip:{n}", now=T)
            for n in range(40)
        )
    )
    assert sum(not isinstance(b, Lock) for b in begun) == 5  # checked; the rest refused


def guess_at_once(replicas: list[LockoutStore], guesses: int) -> list[Attempt | Lock]:
    """``guesses`` wrong guesses at one order from as many clients, sent at the same moment
    from threads spread over ``replicas``: what each ``begin`` answered."""
    start = threading.Barrier(guesses)

    def one(n: int) -> Attempt | Lock:
        locks = replicas[n % len(replicas)]
        start.wait()
        begun = locks.begin(record="order:SO-1", client=f"ip:{n}", now=T)
        if isinstance(begun, Attempt):
            locks.fail(begun, now=T)
        return begun

    with ThreadPoolExecutor(max_workers=guesses) as pool:
        return list(pool.map(one, range(guesses)))


def test_twenty_guesses_spread_over_two_replicas_get_exactly_the_limit_checked(
    backend: StateBackend,
) -> None:
    replicas = [store(backend), store(backend)]  # two processes, one database

    begun = guess_at_once(replicas, 20)

    checked = [b for b in begun if isinstance(b, Attempt)]
    assert len(checked) == 5  # LOCKOUT_RECORD_FAILURES: not one check more
    assert {b for b in begun if isinstance(b, Lock)} == {Lock(RECORD, T + 900)}
    for locks in replicas:
        assert locks.lock_on(record="order:SO-1", client="ip:new", now=T + 1) == Lock(
            RECORD, T + 900
        )


def test_a_lock_made_by_one_replica_holds_on_the_other(backend: StateBackend) -> None:
    first, second = store(backend), store(backend)
    for n in range(4):
        assert wrong(first, "order:SO-1", f"ip:{n}", T + n) is None
    assert wrong(second, "order:SO-1", "ip:4", T + 4) == Lock(RECORD, T + 904)  # the 5th

    assert first.lock_on(record="order:SO-1", client="ip:new", now=T + 5) == Lock(RECORD, T + 904)
    assert first.begin(record="order:SO-1", client="ip:new", now=T + 5) == Lock(RECORD, T + 904)
    for n in range(9):  # the client's count is shared too
        wrong(first if n % 2 else second, f"order:SO-{n + 10}", "ip:a", T)
    assert wrong(second, "order:SO-99", "ip:a", T) == Lock(CLIENT, T + 3600)
    assert first.lock_on(record=None, client="ip:a", now=T + 60) == Lock(CLIENT, T + 3600)


def test_the_actions_store_is_the_one_the_environment_names(backend: StateBackend) -> None:
    replica = store(backend)
    for n in range(5):
        wrong(replica, "order:SO-1", f"ip:{n}", T)

    assert lockout_store().engine.dialect.name == backend.name
    assert lockout_store().lock_on(record="order:SO-1", client="ip:x", now=T) == Lock(
        RECORD, T + 900
    )


def test_a_file_from_before_keeps_its_counts_and_locks(tmp_path: Path) -> None:
    path = tmp_path / "actions-state.db"
    old = LockoutStore(path, LockoutPolicy.from_env({}))
    for n in range(4):
        wrong(old, "order:SO-1", f"ip:{n}", T)
    wrong(old, "email:a@example.com", "ip:9", T)
    for _ in range(4):
        wrong(old, "email:a@example.com", "ip:9", T)
    old.close()
    # The file as the store before erp/state.py wrote it: tables `failures` and `locks`.
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE failures (key TEXT NOT NULL, at REAL NOT NULL)")
        db.execute("CREATE TABLE locks (key TEXT PRIMARY KEY, until REAL NOT NULL)")
        db.execute("INSERT INTO failures SELECT key, at FROM lockout_failures")
        db.execute("INSERT INTO locks SELECT key, until FROM lockout_locks")
        db.execute("DROP TABLE lockout_failures")
        db.execute("DROP TABLE lockout_locks")

    upgraded = LockoutStore(path, LockoutPolicy.from_env({}))

    assert wrong(upgraded, "order:SO-1", "ip:4", T + 1) == Lock(RECORD, T + 901)  # the 5th
    assert upgraded.lock_on(record="email:a@example.com", client="ip:new", now=T + 1) == Lock(
        RECORD, T + 900
    )
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert not {"failures", "locks"} & tables
    upgraded.close()


def test_the_policy_reads_the_environment_and_explains_bad_values() -> None:
    assert LockoutPolicy.from_env({}) == LockoutPolicy(
        record=Limit(5, 900.0, 900.0), client=Limit(10, 3600.0, 3600.0)
    )
    policy = LockoutPolicy.from_env({"LOCKOUT_CLIENT_FAILURES": "20"})
    assert policy.client.failures == 20
    with pytest.raises(SettingsError, match="LOCKOUT_RECORD_SECONDS must be at least 1, got 0"):
        LockoutPolicy.from_env({"LOCKOUT_RECORD_SECONDS": "0"})
    with pytest.raises(SettingsError, match="LOCKOUT_CLIENT_WINDOW_SECONDS must be an integer"):
        LockoutPolicy.from_env({"LOCKOUT_CLIENT_WINDOW_SECONDS": "an hour"})


# --- the forms ------------------------------------------------------------------------------


@pytest.mark.usefixtures("clock")
async def test_the_record_lock_survives_a_new_sender_id_and_tells_the_time(
    erp_db: Session,
) -> None:
    [(order, customer)] = orders_of_different_customers(erp_db, 1)
    replies = []
    for n in range(5):  # five conversations, five people: only the record is shared
        _, said = await guess(
            order.order_number, "ZZ9 9ZZ", sender=f"rest:attacker-{n}", client=f"ip:10.0.0.{n}"
        )
        replies.append(said)

    result, said = await guess(
        order.order_number, customer.email, sender="rest:fresh", client="ip:10.0.0.99"
    )

    assert replies[:4] == [not_verified()] * 4
    assert replies[4] == RECORD_LOCKED
    assert said == RECORD_LOCKED  # the right email, and still nothing
    assert result == {"identity": None, "verification_attempts": 3}


async def test_the_right_identity_is_checked_again_once_the_lock_ends(
    erp_db: Session, clock: list[float]
) -> None:
    [(order, customer)] = orders_of_different_customers(erp_db, 1)
    for n in range(5):
        await guess(order.order_number, "ZZ9 9ZZ", sender=f"s{n}", client=f"ip:{n}")
    clock[0] = T + 901

    result, said = await guess(order.order_number, customer.email, sender="s9", client="ip:9")

    assert said == ""
    assert proof_in(result, sender_id="s9", now=clock[0]).customer_id == customer.id


@pytest.mark.usefixtures("clock")
async def test_a_locked_order_number_is_refused_before_any_identity_is_asked(
    erp_db: Session, domain: dict
) -> None:
    [(order, _)] = orders_of_different_customers(erp_db, 1)
    for n in range(5):
        await guess(order.order_number, "ZZ9 9ZZ", sender=f"s{n}", client=f"ip:{n}")
    state = tracker(
        {"order_number": order.order_number},
        sender_id="rest:new",
        active_loop="order_form",
        requested_slot="order_number",
        metadata={"channel": "rest", "client": "ip:192.0.2.1"},
    )
    dispatcher = CollectingDispatcher()

    events = await ValidateOrderForm().run(dispatcher, state, domain)

    assert texts(dispatcher) == RECORD_LOCKED
    slots = slot_events(events)
    assert slots["requested_slot"] is None and slots["verification_attempts"] == 3


@pytest.mark.usefixtures("clock")
async def test_the_client_lock_holds_across_conversations_and_records(erp_db: Session) -> None:
    pairs = orders_of_different_customers(erp_db, 11)
    replies = []
    for n, (order, _) in enumerate(pairs[:10]):  # one wrong guess per order: no record lock
        _, said = await guess(
            order.order_number, "ZZ9 9ZZ", sender=f"telegram:{n}", client="telegram:user:77"
        )
        replies.append(said)
    fresh_order, fresh_customer = pairs[10]

    refused, said_to_attacker = await guess(
        fresh_order.order_number,
        fresh_customer.email,
        sender="telegram:new",
        client="telegram:user:77",
    )
    allowed, said_to_owner = await guess(
        fresh_order.order_number,
        fresh_customer.email,
        sender="telegram:owner",
        client="telegram:user:1",
    )

    assert not_verified() in replies[0] and say("verify.give_up", "en") not in replies[0]
    assert replies[9] == CLIENT_LOCKED
    assert said_to_attacker == CLIENT_LOCKED and "verification" not in refused
    assert said_to_owner == "" and "verification" in allowed


@pytest.mark.usefixtures("clock")
async def test_without_a_client_key_the_sender_id_is_counted(erp_db: Session) -> None:
    pairs = orders_of_different_customers(erp_db, 10)
    for order, _ in pairs[:9]:
        await guess(order.order_number, "ZZ9 9ZZ", sender="rest:one", client=None)
    _, said = await guess(pairs[9][0].order_number, "ZZ9 9ZZ", sender="rest:one", client=None)
    assert said == CLIENT_LOCKED


@pytest.mark.usefixtures("clock")
async def test_the_owners_success_does_not_reset_the_record_count(erp_db: Session) -> None:
    [(order, customer)] = orders_of_different_customers(erp_db, 1)
    for n in range(4):
        await guess(order.order_number, "ZZ9 9ZZ", sender=f"a{n}", client="ip:attacker")
    owner, _ = await guess(order.order_number, customer.postcode, sender="o", client="ip:owner")

    _, said = await guess(order.order_number, "ZZ9 9ZZ", sender="a9", client="ip:attacker")

    assert "verification" in owner
    assert said == RECORD_LOCKED


@pytest.mark.usefixtures("clock")
async def test_unpaid_invoice_guesses_lock_the_email(erp_db: Session) -> None:
    customer = erp_db.scalars(select(Customer).limit(1)).one()
    form = ValidateUnpaidInvoicesForm()
    replies = []
    for n in range(6):
        dispatcher = CollectingDispatcher()
        postcode = "ZZ9 9ZZ" if n < 5 else customer.postcode  # the last one is right
        result = await form.validate_postcode(
            postcode,
            dispatcher,
            tracker({"email": customer.email}, sender_id=f"s{n}", metadata={"client": f"ip:{n}"}),
            {},
        )
        replies.append(texts(dispatcher))

    assert replies[:4] == [not_verified()] * 4
    assert replies[4] == replies[5] == RECORD_LOCKED.replace("this order", "this account")
    assert result == {"email": None, "postcode": None, "verification_attempts": 3}


@pytest.mark.usefixtures("clock")
async def test_concurrent_guesses_at_one_order_are_not_all_checked(erp_db: Session) -> None:
    [(order, _)] = orders_of_different_customers(erp_db, 1)
    replies = await asyncio.gather(
        *(guess(order.order_number, "ZZ9 9ZZ", sender=f"s{n}", client=f"ip:{n}") for n in range(20))
    )
    said = [text for _, text in replies]
    checked = said.count(not_verified())  # a wrong guess that was judged
    assert 1 <= checked <= 5
    assert said.count(RECORD_LOCKED) == 20 - checked


@pytest.mark.usefixtures("clock")
async def test_number_and_identity_in_one_message_to_a_locked_order_get_one_reply(
    erp_db: Session, domain: dict
) -> None:
    [(order, customer)] = orders_of_different_customers(erp_db, 1)
    for n in range(5):
        await guess(order.order_number, "ZZ9 9ZZ", sender=f"s{n}", client=f"ip:{n}")
    said = f"where is {order.order_number}, my email is {customer.email}"
    for first, second in (("order_number", "identity"), ("identity", "order_number")):
        values = {"order_number": order.order_number, "identity": customer.email}
        state = tracker(
            {first: values[first], second: values[second]},
            text=said,
            sender_id="rest:new",
            active_loop="order_form",
            requested_slot="order_number",
        )
        dispatcher = CollectingDispatcher()

        events = await ValidateOrderForm().run(dispatcher, state, domain)

        assert [m["text"] for m in dispatcher.messages] == [RECORD_LOCKED], first
        assert "verification" not in slot_events(events)


async def test_a_state_database_out_of_reach_gets_a_reply_and_verifies_nothing(
    erp_db: Session, domain: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    [(order, customer)] = orders_of_different_customers(erp_db, 1)
    monkeypatch.setenv(URL_ENV, "postgresql://acts@127.0.0.1:9/acts")  # nothing listens there
    close_process_stores()
    state = tracker(
        {"order_number": order.order_number, "identity": customer.email},
        sender_id="rest:new",
        active_loop="order_form",
        requested_slot="identity",
    )
    dispatcher = CollectingDispatcher()

    events = await ValidateOrderForm().run(dispatcher, state, domain)

    assert texts(dispatcher) == say("error.unavailable", "en")
    assert "verification" not in slot_events(events)
