"""Document questions over POST /api/messages: a cited answer, and no guessing off-topic."""

from __future__ import annotations

import pytest

from retrieval.settings import RetrievalSettings
from tests.e2e.conftest import Assistant

pytestmark = pytest.mark.e2e


def settings() -> RetrievalSettings:
    return RetrievalSettings.from_env()


@pytest.fixture(scope="module", autouse=True)
def index_built() -> None:
    if not (settings().index_dir / "manifest.json").exists():
        pytest.fail("no document index: run `make index` (make test does)")


def answer(assistant: Assistant, sender: str, question: str) -> tuple[str, list[dict]]:
    """The reply's text and its citations (Rasa sends the custom payload as its own message)."""
    messages = assistant.say(sender, question)
    text = "\n".join(m.get("text") or "" for m in messages)
    citations = [c for m in messages for c in (m.get("custom") or {}).get("citations", [])]
    return text, citations


def test_policy_question_gets_a_cited_answer(assistant: Assistant) -> None:
    text, citations = answer(assistant, "e2e-docs-norway", "do you ship to Norway?")
    assert "Norway" in text and "(Source: " in text
    citation = citations[0]
    assert (settings().docs_dir / citation["document"]).is_file()
    assert citation["title"] in text and citation["url"] in text
    assert citation["url"].startswith(("https://", "/docs/"))


def test_product_question_cites_the_manual(assistant: Assistant) -> None:
    text, citations = answer(assistant, "e2e-docs-px8", "how do I reset the PX-8 logic controller?")
    assert citations[0]["document"].startswith("products/")
    assert "PX-8" in citations[0]["title"] and "(Source: " in text


def test_an_unanswerable_question_is_not_guessed(assistant: Assistant) -> None:
    reply = assistant.say("e2e-docs-unknown", "what is the airspeed velocity of an unladen swallow")
    text = "\n".join(m.get("text") or "" for m in reply)
    assert "(Source: " not in text
    assert "I can check" in text
