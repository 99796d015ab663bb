"""The answering service: templates at once, generated wording only within budget, never a wait."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from actions.answering import (
    MISSES_BEFORE_BACKOFF,
    AnsweringService,
    AnsweringSettings,
)
from envvars import SettingsError
from models.examples import ContextItem
from models.generator import Generation, Limits
from models.prompt import approx_tokens

FACTS = ContextItem(
    "ERP stock WID-1001",
    "product: Blue Widget\nsku: WID-1001\ntotal available: 40\nstock status: in stock",
    "erp:stock:WID-1001",
)
TEMPLATE = "Yes, Blue Widget (WID-1001) is in stock: 40 available (40 in Leeds)."
WORDING = "Blue Widget (WID-1001) is in stock: we have 40 available."
PASSAGE = ContextItem("Returns › Refunds", "We refund returns within 5 working days.", "r1")
EXTRACTIVE = "We refund returns within 5 working days.\n(Source: Returns › Refunds – /docs/r)"


class PacedGenerator:
    """A generator that says ``answer`` word by word, ``delay`` seconds per word.

    Records how many answers were started and whether each stream was closed early.
    """

    name = "paced"

    def __init__(self, answer: str, delay: float = 0.0, first_delay: float = 0.0) -> None:
        self.limits = Limits()
        self.answer = answer
        self.delay = delay
        self.first_delay = first_delay
        self.started = 0
        self.finished = 0
        self.closed_early = 0
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)

    def waiting(self, seconds: float) -> PacedGenerator:
        self.waits.append(seconds)
        return self

    def generate(self, prompt: str) -> Generation:
        text = "".join(self.stream(prompt))
        return Generation(text, len(text.split()), 0.0, 0.0, "eos")

    def stream(self, prompt: str) -> Iterator[str]:
        with self._lock:
            self.started += 1
        done = False
        try:
            time.sleep(self.first_delay)
            for word in self.answer.split(" "):
                time.sleep(self.delay)
                yield word + " "
            done = True
        finally:
            with self._lock:
                if done:
                    self.finished += 1
                else:
                    self.closed_early += 1


class BrokenRetriever:
    def warm_up(self) -> None:
        raise RuntimeError("index not built")


def service(
    generator: Any, *, erp_budget: float = 0.3, doc_wait: float = 0.5, first: float = 1.0
) -> AnsweringService:
    return AnsweringService(
        AnsweringSettings(erp_budget=erp_budget, doc_wait=doc_wait, doc_first_sentence=first),
        generator=generator,
        retriever=BrokenRetriever,  # type: ignore[arg-type]
        product_names=lambda: frozenset({"Blue Widget"}),
        prompt_tokens=320,
    )


async def ask(answering: AnsweringService) -> Any:
    return await answering.erp_answer(
        "Is Blue Widget in stock?", FACTS, ["WID-1001", "40"], TEMPLATE
    )


async def test_wording_ready_within_the_budget_is_used() -> None:
    model = PacedGenerator(WORDING)
    reply = await ask(service(model, erp_budget=2.0))
    assert (reply.text, reply.wording) == (WORDING, "generated")
    assert model.waits == [0.0]  # an ERP answer never queues for the model


async def test_past_the_budget_the_template_is_final_and_the_generation_is_cancelled() -> None:
    model = PacedGenerator(WORDING, delay=0.2)
    started = time.perf_counter()
    reply = await ask(service(model, erp_budget=0.3))
    took = time.perf_counter() - started
    assert (reply.text, reply.wording, reply.reason) == (TEMPLATE, "template", "budget")
    assert took < 1.0
    await asyncio.sleep(0.6)  # the worker sees the stop at the model's next word
    assert model.closed_early == 1 and model.finished == 0


async def test_without_a_generator_the_template_is_sent_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="actions.answering")
    reply = await ask(service(None))
    assert (reply.text, reply.wording, reply.reason) == (TEMPLATE, "template", "off")
    assert any(
        "answer kind=erp wording=template reason=off" in r.getMessage() for r in caplog.records
    )


async def test_unsupported_wording_gets_the_template() -> None:
    model = PacedGenerator("Blue Widget (WID-1001) is in stock: we have 4000 available.")
    reply = await ask(service(model, erp_budget=2.0))
    assert (reply.text, reply.reason) == (TEMPLATE, "unsupported")


async def test_a_generator_that_keeps_missing_the_budget_is_asked_only_now_and_then() -> None:
    model = PacedGenerator(WORDING, first_delay=0.2)
    answering = service(model, erp_budget=0.05)
    replies = [await ask(answering) for _ in range(MISSES_BEFORE_BACKOFF + 6)]
    assert all(r.text == TEMPLATE for r in replies)
    assert [r.reason for r in replies[:MISSES_BEFORE_BACKOFF]] == ["budget"] * 3
    assert {r.reason for r in replies[MISSES_BEFORE_BACKOFF:]} == {"slow"}
    assert model.started == MISSES_BEFORE_BACKOFF


async def test_twenty_concurrent_erp_answers_all_return_within_the_budget() -> None:
    model = PacedGenerator(WORDING, delay=0.1)
    answering = service(model, erp_budget=0.3)
    started = time.perf_counter()
    replies = await asyncio.gather(*(ask(answering) for _ in range(20)))
    assert time.perf_counter() - started < 2.0
    assert all(r.text == TEMPLATE for r in replies)


async def test_a_document_answer_shows_the_passage_at_once_then_the_generated_sentences() -> None:
    model = PacedGenerator("We refund returns within 5 working days. ", delay=0.01)
    shown: list[tuple[float, str]] = []
    started = time.perf_counter()

    def show(text: str) -> None:
        shown.append((time.perf_counter() - started, text))

    reply = await service(model).document_answer(
        "how long do refunds take?", [PASSAGE], EXTRACTIVE, show=show
    )
    assert reply.wording == "generated"
    assert shown[0][1] == EXTRACTIVE and shown[0][0] < 0.5
    assert shown[-1][1] == "We refund returns within 5 working days."
    assert model.waits == [0.5]


async def test_a_document_answer_whose_first_sentence_is_late_keeps_the_passage() -> None:
    model = PacedGenerator("We refund returns within 5 working days.", delay=0.3)
    shown: list[str] = []
    started = time.perf_counter()
    reply = await service(model, doc_wait=0.1, first=0.3).document_answer(
        "how long do refunds take?", [PASSAGE], EXTRACTIVE, show=shown.append
    )
    assert time.perf_counter() - started < 1.5
    assert (reply.text, reply.wording, reply.reason) == (EXTRACTIVE, "extractive", "late")
    assert shown == [EXTRACTIVE]
    assert model.closed_early == 1


async def test_without_a_generator_a_document_answer_is_the_passage_without_drafts() -> None:
    shown: list[str] = []
    reply = await service(None).document_answer(
        "refunds?", [PASSAGE], EXTRACTIVE, show=shown.append
    )
    assert (reply.text, reply.wording) == (EXTRACTIVE, "extractive")
    assert shown == []


def test_warm_up_survives_a_retriever_that_cannot_load(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="actions.answering")
    answering = service(None)
    answering.warm_up()
    assert "document search not ready at start: index not built" in caplog.text
    assert answering.product_names() == frozenset({"Blue Widget"})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ANSWER_ERP_BUDGET_MS", "-1", "ANSWER_ERP_BUDGET_MS must be at least 0, got -1"),
        ("ANSWER_DOC_WAIT_MS", "soon", "ANSWER_DOC_WAIT_MS must be a number, got 'soon'"),
    ],
)
def test_bad_settings_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        AnsweringSettings.from_env({name: value})


def test_settings_defaults_and_overrides() -> None:
    assert AnsweringSettings.from_env({}) == AnsweringSettings()
    assert AnsweringSettings.from_env({}).erp_budget == pytest.approx(0.3)
    assert AnsweringSettings.from_env({"ANSWER_ERP_BUDGET_MS": "0"}).erp_budget == 0
    assert (
        AnsweringSettings.from_env({"ANSWER_DOC_FIRST_SENTENCE_S": "2.5"}).doc_first_sentence == 2.5
    )
