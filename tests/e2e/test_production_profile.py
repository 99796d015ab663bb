"""PROFILE=production against the machine's PostgreSQL, Redis and RabbitMQ: the accounts the
profile creates and what they may not do; a conversation's events in the PostgreSQL tracker
store and published to RabbitMQ; each turn taking the conversation's lock in Redis and counted
in the gateway's shared rate limits there; twenty messages at once to one conversation."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pika
import psycopg
import pytest
import redis
from pika.exceptions import ChannelClosedByBroker, ProbableAccessDeniedError

from bot.profile import Production
from tests.e2e.conftest import Assistant, start_production

pytestmark = pytest.mark.e2e

NAME = "erp_e2e_profile"
LOCK_DB = "3"


@pytest.fixture(scope="module")
def settings() -> Production:
    return Production.from_env({"PRODUCTION_NAME": NAME, "RASA_LOCK_REDIS_DB": LOCK_DB})


@pytest.fixture(scope="module")
def production(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Assistant, dict[str, str]]]:
    """The assistant on the production profile, from an empty tracker database and queue."""
    with start_production(tmp_path_factory.mktemp("production"), NAME, LOCK_DB) as running:
        yield running


def tracker_events(settings: Production, passwords: dict[str, str], sender: str) -> list[dict]:
    with psycopg.connect(
        host="127.0.0.1", dbname=settings.tracker_database, user=settings.tracker_role,
        password=passwords["RASA_TRACKER_PG_PASSWORD"],
    ) as db:  # fmt: skip
        rows = db.execute("SELECT data FROM events WHERE sender_id = %s ORDER BY id",
                          (sender,)).fetchall()  # fmt: skip
    return [json.loads(row[0]) for row in rows]


def reader(settings: Production, passwords: dict[str, str]) -> pika.BlockingConnection:
    credentials = pika.PlainCredentials(
        settings.events_reader, passwords["RASA_EVENTS_READER_PASSWORD"]
    )
    return pika.BlockingConnection(
        pika.ConnectionParameters("127.0.0.1", 5672, settings.vhost, credentials)
    )


def published(settings: Production, passwords: dict[str, str], sender: str) -> list[dict]:
    """The events of ``sender`` waiting in the queue (taken off it, the rest left there)."""
    connection = reader(settings, passwords)
    found = []
    try:
        channel = connection.channel()
        while True:
            method, _, body = channel.basic_get(settings.events_queue, auto_ack=False)
            if method is None:
                break
            event = json.loads(body)
            if event.get("sender_id") == sender:
                found.append(event)
                channel.basic_ack(method.delivery_tag)
    finally:
        connection.close()
    return found


def test_the_profile_creates_accounts_with_only_the_rights_they_need(
    production: tuple[Assistant, dict[str, str]], settings: Production
) -> None:
    _, passwords = production
    with psycopg.connect(settings.postgres_admin_url, autocommit=True) as admin:
        row = admin.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = %s",
            (settings.tracker_role,),
        ).fetchone()
        stranger = "SELECT 1 FROM pg_roles WHERE rolname = 'erp_e2e_stranger'"
        if not admin.execute(stranger).fetchone():
            admin.execute("CREATE ROLE erp_e2e_stranger LOGIN")  # another database user
    assert row == (False, False, False)
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(host="127.0.0.1", dbname=settings.tracker_database,
                        user="erp_e2e_stranger").close()  # fmt: skip

    lock_user = redis.Redis(host="127.0.0.1", db=int(LOCK_DB), username=settings.redis_user,
                            password=passwords["RASA_LOCK_REDIS_PASSWORD"])  # fmt: skip
    try:
        lock_user.set(f"{settings.lock_prefix}:lock:probe", "1")
        lock_user.delete(f"{settings.lock_prefix}:lock:probe")
        with pytest.raises(redis.exceptions.NoPermissionError):
            lock_user.get("session:someone-else")
        with pytest.raises(redis.exceptions.NoPermissionError):
            lock_user.flushall()
    finally:
        lock_user.close()

    connection = reader(settings, passwords)
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        with pytest.raises((ChannelClosedByBroker, ProbableAccessDeniedError)):
            channel.basic_publish("rasa-exchange", "", b'{"forged": true}')
    finally:
        if connection.is_open:
            connection.close()


def test_a_conversation_is_tracked_in_postgresql_published_and_locked_in_redis(
    production: tuple[Assistant, dict[str, str]], settings: Production
) -> None:
    assistant, passwords = production
    notices: list[str] = []
    watcher = redis.Redis(host="127.0.0.1", db=int(LOCK_DB))
    previous = watcher.config_get("notify-keyspace-events")["notify-keyspace-events"]
    watcher.config_set("notify-keyspace-events", "KA")
    subscription = watcher.pubsub()
    subscription.psubscribe(f"__keyspace@{LOCK_DB}__:{settings.lock_prefix}:lock:*")
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            message = subscription.get_message(timeout=0.2)
            if message and message["type"] == "pmessage":
                notices.append(f"{message['channel'].decode()} {message['data'].decode()}")

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    try:
        time.sleep(0.3)
        reply = assistant.texts("prod-1", "hello there")
        assert "order" in reply
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join(timeout=5)
        subscription.close()
        watcher.config_set("notify-keyspace-events", previous)
        watcher.close()

    sender = "rest:local:prod-1"
    events = tracker_events(settings, passwords, sender)
    assert [e["text"] for e in events if e["event"] == "user"] == ["hello there"]
    assert any(e["event"] == "bot" for e in events)
    sent = published(settings, passwords, sender)
    assert [e["text"] for e in sent if e["event"] == "user"] == ["hello there"]
    assert any(e["event"] == "bot" for e in sent)
    assert any(n.endswith(f"lock:{sender} set") for n in notices), notices
    # The gateway counted the message in Redis (rate limits shared by its replicas).
    admin = redis.Redis(host="127.0.0.1", db=int(LOCK_DB))
    try:
        assert list(admin.scan_iter(f"{settings.lock_prefix}:rate:*"))
    finally:
        admin.close()


def test_twenty_messages_at_once_to_one_conversation_are_all_answered_and_tracked(
    production: tuple[Assistant, dict[str, str]], settings: Production
) -> None:
    assistant, passwords = production

    def send(n: int) -> int:
        text = f"is WID-{1001 + n} in stock?"
        response = assistant.client.post(
            "/api/messages", json={"sender_id": "prod-burst", "text": text}
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(send, range(20)))

    assert statuses == [200] * 20
    events = tracker_events(settings, passwords, "rest:local:prod-burst")
    texts = [e["text"] for e in events if e["event"] == "user"]
    assert sorted(texts) == sorted(f"is WID-{1001 + n} in stock?" for n in range(20))
    # Turns did not interleave: each user message is followed by its own action run.
    assert len([e for e in events if e["event"] == "action" and e["name"] == "action_listen"]) >= 20
    published_texts = [e["text"] for e in published(settings, passwords, "rest:local:prod-burst")
                       if e["event"] == "user"]  # fmt: skip
    assert sorted(published_texts) == sorted(texts)
