"""The action server's /metrics (METRICS_TOKEN only, 404 without it) and JSON logs: actions,
ERP calls, fallbacks, errors, document searches and generator requests counted; every line
of an action run tagged with its conversation as the gateway tags it, never the sender id."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from rasa_sdk import Tracker
from sanic import Sanic
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions import documents
from actions.answering import AnsweringService, AnsweringSettings, _Measured
from actions.documents import Threshold
from actions.metrics import ActionMetrics, action_run
from actions.server import create_app, main
from contracts.logs import json_handler
from contracts.redaction import conversation_tag, redact
from erp.models import Customer, SalesOrder
from models.examples import ContextItem
from retrieval.errors import IndexNotBuilt
from tests.actions.conftest import tracker, verified
from tests.models.fakes import ScriptedGenerator

RASA_TOKEN = "action-server-test-token"
METRICS_TOKEN = "metrics-token-0123456789"
RASA = {"Authorization": f"Bearer {RASA_TOKEN}"}
SCRAPER = {"Authorization": f"Bearer {METRICS_TOKEN}"}
# rasa-sdk warns about a Rasa of another minor version; the gateway tests' Rasa is 3.6.
SDK_VERSION = "3.21.0"


async def served(app: Sanic) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client for ``app`` with its ASGI lifespan started (Sanic needs the loop)."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    lifespan = asyncio.create_task(app(scope, inbox.get, outbox.put))  # type: ignore[arg-type]
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    try:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://actions.test") as c:
            yield c
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await lifespan
        Sanic.unregister_app(app)


@pytest.fixture(autouse=True)
def sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sanic rewrites its request handling code at the first start in a process; in test
    mode it does not, so apps can be started one after the other."""
    monkeypatch.setattr(Sanic, "test_mode", True)


@pytest.fixture
async def server() -> AsyncIterator[httpx.AsyncClient]:
    async for client in served(create_app(RASA_TOKEN, metrics_token=METRICS_TOKEN)):
        yield client


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics", headers=SCRAPER)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def call(action: str, state: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
    """The body Rasa POSTs to /webhook to run ``action`` on ``state``."""
    return {
        "next_action": action,
        "sender_id": state.sender_id,
        "version": SDK_VERSION,
        "tracker": state.current_state(),
        "domain": domain,
    }


def an_order(db: Session) -> tuple[SalesOrder, Customer]:
    order = db.scalars(select(SalesOrder).where(SalesOrder.status == "shipped").limit(1)).one()
    customer = db.get(Customer, order.customer_id)
    assert customer is not None
    return order, customer


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the actions log at INFO during the test, as LOG_FORMAT=json writes it."""
    stream = io.StringIO()
    handler = json_handler(stream)
    actions = logging.getLogger("actions")
    level = actions.level
    actions.addHandler(handler)
    actions.setLevel(logging.INFO)
    yield stream
    actions.removeHandler(handler)
    actions.setLevel(level)


# --- who may read /metrics ------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        RASA,
        {"Authorization": METRICS_TOKEN},
    ],
    ids=["none", "wrong", "rasa-s-token", "no-scheme"],
)
async def test_metrics_refuses_a_scraper_without_the_metrics_token(
    server: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await server.get("/metrics", headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "erp_assistant" not in response.text


async def test_without_a_metrics_token_metrics_is_404_even_for_rasa() -> None:
    async for client in served(create_app(RASA_TOKEN)):
        for headers in ({}, RASA, SCRAPER):
            assert (await client.get("/metrics", headers=headers)).status_code == 404
        # The rest is as before: Rasa's token opens the action list, nothing else does.
        assert (await client.get("/actions", headers=RASA)).status_code == 200
        assert (await client.get("/actions", headers=SCRAPER)).status_code == 401


async def test_the_metrics_token_does_not_run_actions(
    server: httpx.AsyncClient, domain: dict[str, Any]
) -> None:
    response = await server.post(
        "/webhook", json=call("action_default_fallback", tracker(), domain), headers=SCRAPER
    )

    assert response.status_code == 401


# --- what /metrics counts -------------------------------------------------------------------


async def test_an_action_run_moves_its_counter_and_the_erp_histogram(
    server: httpx.AsyncClient, erp_db: Session, domain: dict[str, Any]
) -> None:
    order, customer = an_order(erp_db)
    state = tracker({"order_number": order.order_number, **verified(customer.id)})
    before = await scrape(server)

    response = await server.post(
        "/webhook", json=call("action_order_status", state, domain), headers=RASA
    )

    assert response.status_code == 200, response.text
    assert order.order_number in response.json()["responses"][0]["text"]
    after = await scrape(server)
    action = {"action": "action_order_status", "outcome": "ok"}
    assert value(before, "erp_assistant_actions_total", **action) == 0
    assert value(after, "erp_assistant_actions_total", **action) == 1
    assert value(after, "erp_assistant_action_seconds_count", **action) == 1
    erp = {"operation": "orders.get_order_status", "outcome": "ok"}
    assert value(after, "erp_assistant_erp_query_seconds_count", **erp) == 1
    assert value(after, "erp_assistant_erp_query_seconds_sum", **erp) > 0
    worded = {"kind": "erp", "wording": "template", "reason": "off"}
    assert value(after, "erp_assistant_answers_total", **worded) == 1


async def test_an_apology_for_an_erp_error_is_an_error_reply_counted_by_kind(
    server: httpx.AsyncClient, erp_db: Session, domain: dict[str, Any]
) -> None:
    order, customer = an_order(erp_db)
    someone_else = customer.id + 1
    state = tracker({"order_number": order.order_number, **verified(someone_else)})

    response = await server.post(
        "/webhook", json=call("action_order_status", state, domain), headers=RASA
    )

    assert response.status_code == 200
    samples = await scrape(server)
    action = {"action": "action_order_status", "outcome": "error_reply"}
    assert value(samples, "erp_assistant_actions_total", **action) == 1
    assert value(samples, "erp_assistant_action_errors_total", kind="access_denied") == 1
    erp = {"operation": "orders.get_order_status", "outcome": "denied"}
    assert value(samples, "erp_assistant_erp_query_seconds_count", **erp) == 1


async def test_fallbacks_and_unknown_actions_are_counted(
    server: httpx.AsyncClient, domain: dict[str, Any]
) -> None:
    unsure = tracker(text="blorp", intent="nlu_fallback")

    fallback = await server.post(
        "/webhook", json=call("action_default_fallback", unsure, domain), headers=RASA
    )
    missing = await server.post(
        "/webhook", json=call("action_made_up_by_rasa", tracker(), domain), headers=RASA
    )

    assert (fallback.status_code, missing.status_code) == (200, 404)
    samples = await scrape(server)
    assert value(samples, "erp_assistant_fallbacks_total", kind="default") == 1
    assert value(samples, "erp_assistant_fallbacks_total", kind="nlu_fallback") == 1
    ran = {"action": "action_default_fallback", "outcome": "ok"}
    assert value(samples, "erp_assistant_actions_total", **ran) == 1
    unknown = {"action": "unknown", "outcome": "not_found"}
    assert value(samples, "erp_assistant_actions_total", **unknown) == 1
    assert value(samples, "erp_assistant_action_errors_total", kind="action_not_found") == 1
    assert not any("made_up" in str(key) for key in samples)


class FakeRetriever:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def search(self, question: str, top_k: int = 5) -> list[Any]:
        if self.error is not None:
            raise self.error
        return []


def service(retriever: FakeRetriever) -> AnsweringService:
    return AnsweringService(
        AnsweringSettings(),
        generator=None,
        retriever=lambda: retriever,  # type: ignore[arg-type, return-value]
        product_names=frozenset,
        prompt_tokens=320,
    )


def test_document_searches_are_timed_by_outcome() -> None:
    metrics = ActionMetrics()

    with action_run(metrics, "action_answer_document_question"):
        service(FakeRetriever()).search("how long do refunds take?", 5)
        with pytest.raises(IndexNotBuilt):
            service(FakeRetriever(IndexNotBuilt("no index"))).search("refunds?", 5)

    sample = metrics.registry.get_sample_value
    assert sample("erp_assistant_retrieval_seconds_count", {"outcome": "ok"}) == 1
    assert sample("erp_assistant_retrieval_seconds_count", {"outcome": "error"}) == 1
    assert sample("erp_assistant_action_errors_total", {"kind": "index_not_built"}) == 1


def test_generator_requests_report_time_to_first_token_and_speed() -> None:
    metrics = ActionMetrics()
    measured = _Measured(ScriptedGenerator("Your order SO-100123 has shipped today."))

    with action_run(metrics, "action_order_status"):
        assert "".join(measured.stream("prompt")) == "Your order SO-100123 has shipped today."
        measured.generate("prompt")

    sample = metrics.registry.get_sample_value
    assert sample("erp_assistant_generator_first_token_seconds_count", {}) == 2
    assert sample("erp_assistant_generator_tokens_per_second_count", {}) == 2
    assert sample("erp_assistant_generator_tokens_per_second_sum", {}) > 0


async def test_an_answer_s_generator_request_is_recorded_from_the_worker_thread() -> None:
    metrics = ActionMetrics()
    refunds = "Refunds take 5 working days."
    answering = AnsweringService(
        AnsweringSettings(doc_wait=5.0, doc_first_sentence=5.0),
        generator=ScriptedGenerator(refunds),
        retriever=FakeRetriever,  # type: ignore[arg-type]
        product_names=frozenset,
        prompt_tokens=320,
    )
    passage = ContextItem("Returns policy", refunds, "returns-1")

    with action_run(metrics, "action_answer_document_question"):
        worded = await answering.document_answer("How long do refunds take?", [passage], refunds)

    assert worded.wording == "generated"
    sample = metrics.registry.get_sample_value
    assert sample("erp_assistant_generator_first_token_seconds_count", {}) == 1
    answered = {"kind": "doc", "wording": "generated", "reason": "answer"}
    assert sample("erp_assistant_answers_total", answered) == 1


def test_an_abandoned_stream_still_closes_the_generator_s_stream() -> None:
    closed: list[bool] = []

    class Remote(ScriptedGenerator):
        def stream(self, prompt: str) -> Iterator[str]:
            try:
                yield from ["one ", "two ", "three"]
            finally:
                closed.append(True)

    pieces = _Measured(Remote("")).stream("prompt")
    assert next(pieces) == "one "
    pieces.close()  # type: ignore[attr-defined]

    assert closed == [True]


# --- JSON logs ------------------------------------------------------------------------------


async def test_lines_of_an_action_run_carry_the_gateway_s_tag_not_the_sender(
    server: httpx.AsyncClient, erp_db: Session, domain: dict[str, Any], json_lines: io.StringIO
) -> None:
    order, customer = an_order(erp_db)
    sender = "rest:shop:jo@example.com"
    state = tracker(
        {"order_number": order.order_number, **verified(customer.id + 1, sender_id=sender)},
        sender_id=sender,
    )

    response = await server.post(
        "/webhook", json=call("action_order_status", state, domain), headers=RASA
    )

    assert response.status_code == 200
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    failed = next(line for line in lines if line["message"].startswith("answering failed"))
    assert failed["conversation"] == conversation_tag(sender)
    assert failed["level"] == "WARNING" and failed["logger"] == "actions.replies"
    assert "jo@example.com" not in json_lines.getvalue()
    assert "rest:shop" not in json_lines.getvalue()


async def test_concurrent_action_runs_each_log_with_their_own_tag(
    server: httpx.AsyncClient,
    domain: dict[str, Any],
    json_lines: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def slow_search(question: str) -> tuple[list[Any], float]:
        # In the worker thread the action started, after a pause that interleaves the runs.
        time.sleep(0.001 * (int(question.rsplit(" ", 1)[-1]) % 4))
        logging.getLogger("actions.tests").info("searched for %r", question)
        return [], Threshold(0.4)

    monkeypatch.setattr(documents, "_search", slow_search)
    senders = [f"web:visitor-{n}" for n in range(20)]
    states = [tracker(text=f"blorp {n}", sender_id=s) for n, s in enumerate(senders)]

    responses = await asyncio.gather(
        *(
            server.post("/webhook", json=call("action_answer_document_question", s, domain),
                        headers=RASA)
            for s in states
        )
    )  # fmt: skip

    assert {r.status_code for r in responses} == {200}
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    searched = [line for line in lines if line["message"].startswith("searched for")]
    assert len(searched) == 20
    for line in searched:
        number = int(line["message"].rsplit(" ", 1)[-1].rstrip("'"))
        assert line["conversation"] == conversation_tag(f"web:visitor-{number}"), line
    samples = await scrape(server)
    assert value(samples, "erp_assistant_fallbacks_total", kind="document_unknown") == 20


# --- the same redaction as the gateway (contracts/redaction.py) -----------------------------


@pytest.mark.parametrize(
    "text",
    [
        "mail jo@example.com now",
        "call +44 20 7946 0958",
        "mobile 07700 900123",
        "ship to SW1A 1AA",
        "Austin, TX 78701",
        "zip: 90210",
        "order SO-100123 of 2025-06-02 for 1234567",
        "invoice INV-2024-000123, £1,250.00",
    ],
    ids=["email", "phone-intl", "phone-uk", "postcode-uk", "zip-state", "zip", "order", "invoice"],
)
def test_a_logged_message_is_redacted_as_the_gateway_redacts(
    text: str, json_lines: io.StringIO
) -> None:
    logging.getLogger("actions").info("asked: %s", text)

    (line,) = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    assert line["message"] == redact(f"asked: {text}")


# --- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN must be at least 16 characters, got 5"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be text or json, got 'xml'"),
        ({"ALTERNATIVES_BUDGET_MS": "-1"}, "ALTERNATIVES_BUDGET_MS must be at least 0, got -1"),
    ],
    ids=["short-metrics-token", "unknown-log-format", "negative-alternatives-budget"],
)
def test_a_setting_it_cannot_use_stops_the_server_before_it_starts(
    env: dict[str, str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ACTION_SERVER_TOKEN", RASA_TOKEN)
    for name, setting in env.items():
        monkeypatch.setenv(name, setting)

    assert main(["--port", "0"]) == 2
    assert message in capsys.readouterr().err
