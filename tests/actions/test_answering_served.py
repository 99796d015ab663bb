"""The answering service against a real generator server: budgets, a bounded queue, no waits."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from actions.answering import AnsweringService, AnsweringSettings
from models.examples import ContextItem
from models.generator import Limits
from models.remote import RemoteGenerator
from tests.models.served import TOKEN, SlowModel, serve

FACTS = ContextItem(
    "ERP stock WID-1001",
    "product: Blue Widget\nsku: WID-1001\ntotal available: 40\nstock status: in stock",
    "erp:stock:WID-1001",
)
TEMPLATE = "Yes, Blue Widget (WID-1001) is in stock: 40 available (40 in Leeds)."
WORDING = ["Blue", " Widget", " (WID-1001)", " is", " in", " stock:", " 40", " available."]
PASSAGE = ContextItem("Returns › Refunds", "We refund returns within 5 working days.", "r1")
EXTRACTIVE = "We refund returns within 5 working days.\n(Source: Returns › Refunds – /docs/r)"


class NoRetriever:
    def warm_up(self) -> None:
        return None


CLIENTS: list[RemoteGenerator] = []


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while CLIENTS:
        CLIENTS.pop().close()


def answering(url: str, *, erp_budget: float = 0.3) -> AnsweringService:
    generator = RemoteGenerator(url, TOKEN, Limits(max_new_tokens=50), timeout=30)
    CLIENTS.append(generator)
    return AnsweringService(
        AnsweringSettings(erp_budget=erp_budget, doc_wait=0.5, doc_first_sentence=1.0),
        generator=generator,
        retriever=NoRetriever,  # type: ignore[arg-type]
        product_names=lambda: frozenset({"Blue Widget"}),
        prompt_tokens=320,
    )


async def ask(service: AnsweringService) -> tuple[str, str, float]:
    started = time.perf_counter()
    reply = await service.erp_answer("Is WID-1001 in stock?", FACTS, ["WID-1001", "40"], TEMPLATE)
    return reply.text, reply.reason, time.perf_counter() - started


def health(url: str) -> dict[str, object]:
    return dict(httpx.get(f"{url}/health", timeout=5).json())


@pytest.fixture()
def quick() -> Iterator[tuple[str, SlowModel]]:
    model = SlowModel(WORDING)
    with serve(model) as url:
        yield url, model


@pytest.fixture()
def slow() -> Iterator[tuple[str, SlowModel]]:
    model = SlowModel(WORDING, seconds_per_token=0.25)
    with serve(model, queue=2) as url:
        yield url, model


async def test_a_quick_model_words_the_erp_answer(quick: tuple[str, SlowModel]) -> None:
    url, _ = quick
    text, reason, _ = await ask(answering(url, erp_budget=5.0))
    assert (text, reason) == ("".join(WORDING), "answer")


async def test_a_generator_that_comes_up_later_words_answers_without_a_restart() -> None:
    """`make run` on a fresh machine starts the action server before llama.cpp is built: its
    answers are templates until the generator's server answers at the URL it was given, then
    generated, by the same service."""
    from bot.settings import free_port

    port = free_port()
    service = answering(f"http://127.0.0.1:{port}", erp_budget=5.0)
    text, reason, seconds = await ask(service)
    assert (text, reason) == (TEMPLATE, "error")
    assert seconds < 1.0  # a refused connection costs nothing

    with serve(SlowModel(WORDING), port=port):
        text, reason, _ = await ask(service)
    assert (text, reason) == ("".join(WORDING), "answer")


async def test_a_slow_model_costs_an_erp_answer_no_more_than_the_budget(
    slow: tuple[str, SlowModel],
) -> None:
    url, model = slow
    text, reason, seconds = await ask(answering(url))
    assert (text, reason) == (TEMPLATE, "budget")
    assert seconds < 1.0
    # The abandoned answer is cancelled on the server: the model is free again soon.
    deadline = time.monotonic() + 3
    while health(url)["busy"] and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert health(url)["busy"] is False
    assert model.decoded < len(WORDING)


async def test_twenty_customers_at_once_get_templates_within_the_budget(
    slow: tuple[str, SlowModel],
) -> None:
    url, _ = slow
    service = answering(url)
    results = await asyncio.gather(*(ask(service) for _ in range(20)))
    assert all(text == TEMPLATE for text, _, _ in results)
    assert max(seconds for _, _, seconds in results) < 1.5
    assert {reason for _, reason, _ in results} <= {"budget", "busy", "slow"}


async def test_a_document_answer_with_the_model_busy_is_the_passage_within_a_second() -> None:
    hold = threading.Event()
    model = SlowModel(
        ["We", " refund", " returns", " within", " 5", " working", " days."], hold=hold
    )
    with serve(model, queue=0) as url:
        service = answering(url)
        blocker = asyncio.ensure_future(
            asyncio.to_thread(lambda: list(service.generator.stream("keep the model busy")))  # type: ignore[union-attr]
        )
        while not model.running.is_set():
            await asyncio.sleep(0.05)
        shown: list[tuple[float, str]] = []
        started = time.perf_counter()
        reply = await service.document_answer(
            "how long do refunds take?",
            [PASSAGE],
            EXTRACTIVE,
            show=lambda text: shown.append((time.perf_counter() - started, text)),
        )
        took = time.perf_counter() - started
        hold.set()
        await blocker
    assert (reply.text, reply.wording) == (EXTRACTIVE, "extractive")
    assert shown[0] == (pytest.approx(shown[0][0]), EXTRACTIVE) and shown[0][0] < 0.5
    assert took < 1.5
