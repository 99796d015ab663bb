"""Handoffs under load: summaries bounded per process, the model never entered by two threads,
and 20 handoffs at once with document questions alongside all answered without an error."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import threading
import time
from collections.abc import Generator as Stepper
from typing import Any

import anyio.to_thread
import httpx
import pytest

from connectors.gateway import create_app
from connectors.handoff import summary
from connectors.messages import IncomingMessage, OutgoingMessage
from connectors.store import HistoryEntry
from models.answer import grounded_answer
from models.errors import GeneratorError
from models.examples import ContextItem
from models.generator import Limits, _Decoder
from models.prompt import approx_tokens
from tests.connectors.fakes import SETTINGS, FakeRasa, actions_transport

SENTENCE = "The customer's order SO-100123 arrived damaged."
RETURNS = ContextItem(
    "Returns policy", "You can return any item within 30 days of delivery.", "doc:returns#1"
)


class OneAtATime(_Decoder):
    """A slow model behind the real lock that counts every time two threads are inside it.

    The lock under test is `_Decoder`'s; ``overlaps`` stays 0 only if it holds.
    """

    name = "one-at-a-time"

    def __init__(self, text: str = SENTENCE, *, seconds_per_token: float = 0.01) -> None:
        super().__init__(Limits(max_new_tokens=64, max_seconds=30), wait_seconds=30)
        self.text = text
        self.seconds_per_token = seconds_per_token
        self.overlaps = 0
        self.answers = 0
        self._inside = 0
        self._guard = threading.Lock()
        self.fail = False

    def _enter(self) -> None:
        with self._guard:
            self._inside += 1
            if self._inside > 1:
                self.overlaps += 1

    def _leave(self) -> None:
        with self._guard:
            self._inside -= 1

    def count_tokens(self, text: str) -> int:
        with self._exclusive():
            self._enter()
            try:
                return approx_tokens(text)
            finally:
                self._leave()

    def _token_texts(self, prompt: str) -> Stepper[str, None, None]:
        self._enter()
        try:
            if self.fail:
                raise GeneratorError("the model crashed")
            for word in re.findall(r"\s*\S+", " " + self.text):
                time.sleep(self.seconds_per_token)
                yield word
            self.answers += 1
        finally:
            self._leave()


def entry(text: str) -> HistoryEntry:
    return HistoryEntry(role="user", text=text, buttons=[], image=None, at=0.0)


VERIFIED = {"verified_customer_id": 42, "verified_records": ["SO-100123"]}


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> OneAtATime:
    from models import remote as generator_module

    fake = OneAtATime()
    monkeypatch.setenv("GENERATOR_BACKEND", "llama_cpp")
    monkeypatch.setattr(generator_module, "remote_generator", lambda settings=None: fake)
    return fake


def test_only_one_summary_is_generated_at_a_time_and_the_rest_return_at_once(
    model: OneAtATime,
) -> None:
    model.seconds_per_token = 0.2  # about 1.4 s for the one that runs
    history = [entry("my order SO-100123 arrived damaged")]
    results: list[tuple[str | None, float]] = []
    lock = threading.Lock()

    def ask() -> None:
        started = time.perf_counter()
        sentence = summary.generated_summary(history, "Known: order SO-100123", VERIFIED)
        with lock:
            results.append((sentence, time.perf_counter() - started))

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    generated = [seconds for sentence, seconds in results if sentence == SENTENCE]
    skipped = [seconds for sentence, seconds in results if sentence is None]
    assert len(generated) == 1 and len(skipped) == 5, results
    assert max(skipped) < 0.5 < generated[0]  # nobody queued behind the model
    assert model.answers == 1 and model.overlaps == 0
    # The slot is free again once it finished.
    assert summary.generated_summary(history, "", VERIFIED) == SENTENCE


def test_a_failing_generation_frees_the_summary_slot(model: OneAtATime) -> None:
    history = [entry("my order SO-100123 arrived damaged")]
    model.fail = True

    assert summary.generated_summary(history, "", VERIFIED) is None

    model.fail = False
    assert summary.generated_summary(history, "", VERIFIED) == SENTENCE


def test_a_generated_summary_naming_an_unverified_order_is_dropped(model: OneAtATime) -> None:
    model.text = "The customer asks about order SO-100999."
    history = [entry("what about order SO-100999, it belongs to my colleague")]

    assert summary.generated_summary(history, "", VERIFIED) is None
    assert summary.generated_summary(history, "", {
        "verified_customer_id": 42, "verified_records": ["SO-100999"],
    }) == "The customer asks about order SO-100999."  # fmt: skip
    assert model.answers == 2  # the guard passed it; only verification dropped the first


# --- the crash test: the whole gateway, 20 handoffs and document questions at once --------


class BusyRasa(FakeRasa):
    """Rasa and the action server in one: asking for a person gets the action's handoff
    payload; a document question is answered by the same model instance the gateway's
    summaries use (the worst case: one process, one model, every caller at once)."""

    def __init__(self, model: OneAtATime) -> None:
        super().__init__()
        self.model = model

    async def send(self, message: IncomingMessage) -> list[OutgoingMessage]:
        self.received.append(message)
        text = message.text or ""
        if "person" in text:
            payload = {"handoff": {"rule": "user_request", "score": 0.97, "detail": "asked",
                                   "slots": VERIFIED}}  # fmt: skip
            return [OutgoingMessage(text="Getting a colleague.", custom=payload)]
        if "return" in text:
            result = await anyio.to_thread.run_sync(
                lambda: grounded_answer(text, [RETURNS], generator=self.model, prompt_tokens=320)
            )
            return [OutgoingMessage(text=result.text if result.usable else RETURNS.text)]
        return [OutgoingMessage(text="Sorry to hear that. Anything else?")]


async def test_twenty_handoffs_and_document_questions_at_once_all_get_answers(
    model: OneAtATime, caplog: pytest.LogCaptureFixture
) -> None:
    model.text = "You can return any item within 30 days of delivery."
    model.seconds_per_token = 0.005
    rasa = BusyRasa(model)
    settings = dataclasses.replace(SETTINGS, rate_limit_per_minute=10_000, rate_limit_burst=1_000)
    app = create_app(settings, db_check=lambda: True, rasa_client=rasa,
                     transport=actions_transport())  # fmt: skip
    caplog.set_level(logging.WARNING)

    async def send(client: httpx.AsyncClient, sender: str, text: str) -> dict[str, Any]:
        response = await client.post("/api/messages", json={"sender_id": sender, "text": text})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["messages"] and all(m.get("text") for m in body["messages"]), body
        return body

    async def customer(client: httpx.AsyncClient, index: int) -> None:
        await send(client, f"crash-{index}", "my order SO-100123 arrived damaged")
        await send(client, f"crash-{index}", "I want to talk to a person")

    async def reader(client: httpx.AsyncClient, index: int) -> None:
        for _ in range(2):
            body = await send(client, f"reader-{index}", "what is your return window?")
            assert "30 days" in body["messages"][0]["text"]

    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw.test") as c,
    ):
        await asyncio.wait_for(
            asyncio.gather(*[customer(c, i) for i in range(20)], *[reader(c, i) for i in range(6)]),
            timeout=120,
        )
        queue = app.state.handoff_queue
        deadline = time.monotonic() + 60
        while queue._background and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        handoffs = await queue.list()

    assert not queue._background
    assert len(handoffs) == 20
    assert {h.slots["verified_customer_id"] for h in handoffs} == {42}
    assert model.overlaps == 0
    assert model.answers >= 12  # every document answer, and at least one summary
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
