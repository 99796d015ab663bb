"""The document-question action: cited answers, refusal below the threshold, replaceable reply."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import documents
from actions.documents import (
    ActionAnswerDocumentQuestion,
    DocumentReply,
    Threshold,
    confident,
    extractive_reply,
)
from retrieval.errors import IndexNotBuilt
from retrieval.types import Citation, Passage
from tests.actions.conftest import texts, tracker

SHIPPING = Citation(
    "policies/shipping.md",
    "Shipping and delivery",
    "Countries we deliver to",
    "https://help.example/shipping",
)
RETURNS = Citation(
    "policies/returns.pdf", "Returns and refunds", "Return window", "/docs/policies/returns.pdf"
)


def passage(
    citation: Citation, text: str, score: float, similarity: float | None = None
) -> Passage:
    return Passage(text, score, score if similarity is None else similarity, citation, "id")


NORWAY = passage(SHIPPING, "We do not deliver to Norway or Switzerland.", 0.71)
WINDOW = passage(RETURNS, "You can return most items within 30 days.", 0.52)


@pytest.fixture()
def found(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What the search returns: set `found[:] = [...]`, or put an exception in it."""
    results: list[Any] = []

    def fake_search(question: str) -> tuple[list[Passage], Threshold]:
        if results and isinstance(results[0], Exception):
            raise results[0]
        return list(results), Threshold(0.40)

    monkeypatch.setattr(documents, "_search", fake_search)
    return results


async def run(question: str, dispatcher: CollectingDispatcher, domain: dict[str, Any]) -> list[Any]:
    action = ActionAnswerDocumentQuestion()
    return await action.run(dispatcher, tracker(text=question, intent="ask_document"), domain)


async def test_answer_quotes_the_passage_and_cites_title_section_and_link(
    found: list[Any], dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    found[:] = [NORWAY, WINDOW]
    await run("do you ship to Norway?", dispatcher, domain)
    [message] = dispatcher.messages
    assert message["text"] == (
        "We do not deliver to Norway or Switzerland.\n"
        "(Source: Shipping and delivery › Countries we deliver to – https://help.example/shipping)"
    )
    assert message["custom"] == {
        "citations": [
            {
                "title": "Shipping and delivery",
                "section": "Countries we deliver to",
                "url": "https://help.example/shipping",
                "document": "policies/shipping.md",
            }
        ]
    }


async def test_below_the_threshold_the_bot_says_it_does_not_know_and_offers_a_person(
    found: list[Any], dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    found[:] = [passage(SHIPPING, "We deliver to three countries.", 0.9, similarity=0.21)]
    await run("what's the airspeed of a swallow", dispatcher, domain)
    [message] = dispatcher.messages
    assert message["response"] == "utter_document_unknown"
    [zh, response] = domain["responses"]["utter_document_unknown"]
    assert zh["condition"] == [{"type": "slot", "name": "language", "value": "zh"}]
    assert zh["buttons"] == [{"title": "转人工客服", "payload": "/request_human"}]
    assert "I can check an order" in response["text"] and "rather not guess" in response["text"]
    assert response["buttons"] == [{"title": "Talk to a person", "payload": "/request_human"}]
    assert "Norway" not in texts(dispatcher)


async def test_no_documents_at_all_is_a_refusal_too(
    found: list[Any], dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    await run("do you ship to Norway?", dispatcher, domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_document_unknown"]


async def test_a_missing_index_gets_a_reply_not_a_crash(
    found: list[Any], dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    found[:] = [IndexNotBuilt("var/index")]
    events = await run("do you ship to Norway?", dispatcher, domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_document_unavailable"]
    assert "utter_document_unavailable" in domain["responses"]
    assert all(e["event"] == "slot" for e in events)  # the question's slots are reset, nothing else


async def test_a_button_payload_is_not_searched(
    found: list[Any], dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    found[:] = [NORWAY]
    await run("/ask_document", dispatcher, domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_document_unknown"]


async def test_the_reply_builder_can_be_replaced(
    found: list[Any],
    dispatcher: CollectingDispatcher,
    domain: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[str, list[Passage]]] = []

    def generator(question: str, passages: Sequence[Passage]) -> DocumentReply:
        seen.append((question, list(passages)))
        return DocumentReply("No, we don't ship to Norway.", [passages[0].citation])

    found[:] = [NORWAY, passage(RETURNS, "irrelevant", 0.3)]
    monkeypatch.setattr(ActionAnswerDocumentQuestion, "reply_builder", staticmethod(generator))
    await run("do you ship to Norway?", dispatcher, domain)
    assert texts(dispatcher) == "No, we don't ship to Norway."
    assert seen == [("do you ship to Norway?", [NORWAY])]  # only confident passages


def test_a_close_second_passage_from_another_section_is_shown_too() -> None:
    close = passage(RETURNS, "You can return most items within 30 days.", 0.68)
    reply = extractive_reply("q", [NORWAY, close])
    assert reply.citations == [SHIPPING, RETURNS]
    assert (
        "(Source: Returns and refunds › Return window – /docs/policies/returns.pdf)" in reply.text
    )
    far = passage(RETURNS, "You can return most items within 30 days.", 0.50)
    assert extractive_reply("q", [NORWAY, far]).citations == [SHIPPING]


def test_long_passages_are_cut_at_a_word() -> None:
    long = passage(SHIPPING, "word " * 400, 0.8)
    first = extractive_reply("q", [long]).text.split("\n")[0]
    assert first.endswith(" …") and len(first) <= documents.MAX_ANSWER_CHARS + 2


def test_confident_keeps_passages_above_the_threshold() -> None:
    low = passage(RETURNS, "x", 0.3)
    assert confident([NORWAY, low], Threshold(0.4)) == [NORWAY]
    assert confident([low, NORWAY], Threshold(0.4)) == [NORWAY]
    assert confident([low], Threshold(0.4)) == []
    assert confident([], Threshold(0.4)) == []


def test_a_chinese_question_is_judged_by_its_keyword_score() -> None:
    matched = dataclasses.replace(passage(RETURNS, "退货期限", 0.2), keyword=4.5)
    unmatched = dataclasses.replace(passage(SHIPPING, "送货", 0.9), keyword=1.0)
    assert confident([unmatched, matched], Threshold(0.4, 3.0)) == [matched]


def test_the_threshold_follows_the_questions_language(monkeypatch: pytest.MonkeyPatch) -> None:
    class Service:
        def search(self, question: str, top_k: int) -> list[Passage]:
            return []

    monkeypatch.setattr(documents, "answering_service", Service)
    assert documents._search("how long can I return things?")[1] == Threshold(0.40)
    assert documents._search("退货期限是多久？")[1] == Threshold(0.40, 3.0)
