"""REPLICAS=2 on the production profile: two Rasa servers and two action servers behind HAProxy.
Both replicas serve turns; a conversation started on one continues on the other; a replica
killed with SIGKILL in the middle of twenty conversations costs no message (each gets its
answer or a clear error, and is in the transcript) and the conversations go on."""

from __future__ import annotations

import csv
import io
import json
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.profile import Production
from erp.db import get_engine
from erp.models import Customer, SalesOrder
from tests.e2e.conftest import Assistant, start_production

pytestmark = pytest.mark.e2e


NAME = "erp_e2e_replicas"


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Assistant, dict]]:
    work = tmp_path_factory.mktemp("replicas")
    # A replica killed while it holds a conversation's lock blocks that conversation until the
    # lock expires (25 s by default): shorter here, so that the test takes seconds.
    quick = {"TICKET_LOCK_LIFETIME": "6"}
    with start_production(work, NAME, "4", replicas=2, overrides=quick) as running:
        yield running


@pytest.fixture
def replicated(production: tuple[Assistant, dict]) -> Assistant:
    return production[0]


def user_texts(passwords: dict[str, str], sender: str) -> list[str]:
    """The user's messages of ``sender`` as the tracker store (PostgreSQL) holds them: its
    events in order, a ``rewind`` taking back the latest message (the gateway appends one
    when a turn ended without a reply, so that the resend starts the turn again)."""
    settings = Production.from_env({"PRODUCTION_NAME": NAME})
    with psycopg.connect(
        host="127.0.0.1", dbname=settings.tracker_database, user=settings.tracker_role,
        password=passwords["RASA_TRACKER_PG_PASSWORD"],
    ) as db:  # fmt: skip
        rows = db.execute(
            "SELECT type_name, data FROM events WHERE sender_id = %s "
            "AND type_name IN ('user', 'rewind') ORDER BY id",
            (sender,),
        ).fetchall()
    texts: list[str] = []
    for kind, data in rows:
        if kind == "rewind":
            texts.pop()
        else:
            texts.append(json.loads(data)["text"])
    return texts


def served(assistant: Assistant) -> dict[str, int]:
    """Requests each replica has taken so far, from HAProxy's statistics."""
    stats_url = assistant.service("balancer").health_url.replace("/healthz", "/stats;csv")
    rows = csv.DictReader(io.StringIO(httpx.get(stats_url, timeout=10).text.lstrip("# ")))
    return {row["svname"]: int(row["stot"]) for row in rows if "-" in row["svname"]}


def orders(count: int) -> list[tuple[str, str]]:
    """Shipped orders and their customers' postcodes."""
    with Session(get_engine()) as db:
        rows = db.execute(
            select(SalesOrder.order_number, Customer.postcode)
            .join(Customer, Customer.id == SalesOrder.customer_id)
            .where(SalesOrder.status == "shipped").order_by(SalesOrder.order_number.desc())
            .limit(count)
        ).all()  # fmt: skip
    return [(number, postcode) for number, postcode in rows]


def test_both_replicas_serve_and_conversations_move_between_them(replicated: Assistant) -> None:
    before = served(replicated)
    conversations = orders(10)

    def verify(index: int) -> str:
        number, postcode = conversations[index]
        sender = f"rep-{index}"
        asked = replicated.texts(sender, f"where is my order {number}")
        assert "postcode" in asked, asked
        return replicated.texts(sender, postcode)  # the second turn, maybe on the other replica

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(verify, range(len(conversations))))

    for (number, _), answer in zip(conversations, answers, strict=True):
        assert number in answer and "shipped" in answer, answer
    after = served(replicated)
    for name in ("rasa-1", "rasa-2", "actions-1", "actions-2"):
        assert after[name] > before.get(name, 0), (name, before, after)


@pytest.mark.parametrize("victim", ["rasa-1", "actions-2"])
def test_a_replica_killed_under_load_loses_no_message(
    production: tuple[Assistant, dict], victim: str
) -> None:
    replicated, passwords = production
    service = replicated.service(victim)
    conversations = orders(40)[20:] if victim == "rasa-1" else orders(60)[40:]
    outcomes: list[tuple[str, int, str]] = []
    lock = threading.Lock()
    killed = threading.Event()

    def talk(index: int) -> None:
        number, postcode = conversations[index]
        sender = f"kill-{victim}-{index}"
        for text in (f"where is my order {number}", postcode, "thanks"):
            if index == 5 and text == postcode and not killed.is_set():
                killed.set()
                assert service.process is not None
                service.process.send_signal(signal.SIGKILL)
                service.process.wait(timeout=30)
            response = replicated.client.post(
                "/api/messages", json={"sender_id": sender, "text": text}
            )
            body = response.json()
            shown = (
                "\n".join(m.get("text") or "" for m in body["messages"])
                if response.status_code == 200
                else body.get("error", "")
            )
            with lock:
                outcomes.append((sender, response.status_code, shown))
            attempts = 0
            while response.status_code != 200 and attempts < 4:
                # A clear error: the client sends the message again, as the widget does.
                attempts += 1
                time.sleep(2)
                response = replicated.client.post(
                    "/api/messages", json={"sender_id": sender, "text": text}
                )
                shown = "\n".join(m.get("text") or "" for m in response.json().get("messages", []))
                with lock:
                    outcomes.append((sender, response.status_code, shown or response.text))
            assert response.status_code == 200, response.text

    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            list(pool.map(talk, range(20)))
    finally:
        service.start()  # back for the next test, as the launcher's supervisor would
    assert killed.is_set() and service.exited() is None

    failures = [o for o in outcomes if o[1] != 200]
    assert len(outcomes) - len(failures) == 60  # every message answered, some after a retry
    # Turns inside the killed replica at that moment fail, each with a clear error, and are
    # answered when sent again (after the lock it held expires); nothing else fails.
    assert len(failures) == len({sender for sender, _, _ in failures}), failures
    assert all(status == 503 and "unavailable" in text for _, status, text in failures), failures
    # The conversations went on: each verified on whichever replica took the postcode.
    answered = {sender for sender, status, text in outcomes if status == 200 and "shipped" in text}
    missing = [o for o in outcomes if o[0] not in answered]
    assert len(answered) == 20, "\n".join(map(str, missing))
    # Each message is in the conversation's tracker once, in order (a retry of a turn that
    # failed before Rasa kept it is not a duplicate).
    for index, (number, postcode) in enumerate(conversations):
        texts = user_texts(passwords, f"rest:local:kill-{victim}-{index}")
        assert texts == [f"where is my order {number}", postcode, "thanks"], texts
