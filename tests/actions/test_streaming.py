"""Answer drafts go to the gateway with its token; a gateway that fails is not asked again."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import documents
from actions.documents import ActionAnswerDocumentQuestion, Threshold
from actions.settings import ActionServerSettings, use_settings
from actions.streaming import DraftStream, draft_stream
from retrieval.types import Citation, Passage
from tests.actions.conftest import tracker
from tests.models.fakes import ScriptedGenerator

URL = "http://gateway.test/internal/stream"


def recording(status: int = 204) -> tuple[httpx.Client, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status)

    return httpx.Client(transport=httpx.MockTransport(handle)), seen


def test_a_draft_is_posted_with_the_token() -> None:
    client, seen = recording()
    stream = DraftStream("web:abc", URL, "s3cret", client)
    stream("We refund returns within 5 working days.")
    [request] = seen
    assert request.headers["Authorization"] == "Bearer s3cret"
    assert json.loads(request.content) == {
        "conversation_id": "web:abc",
        "text": "We refund returns within 5 working days.",
    }
    assert stream.sent == 1


def test_a_failing_gateway_is_not_asked_again() -> None:
    client, seen = recording(status=403)
    stream = DraftStream("web:abc", URL, "wrong", client)
    stream("one.")
    stream("one. two.")
    assert len(seen) == 1 and stream.failed


def test_no_stream_without_url_and_token(monkeypatch: pytest.MonkeyPatch) -> None:
    use_settings(ActionServerSettings.from_env({"GATEWAY_INTERNAL_TOKEN": "t"}))
    assert draft_stream("web:abc") is None
    use_settings(
        ActionServerSettings.from_env({"GATEWAY_INTERNAL_TOKEN": "t", "GATEWAY_STREAM_URL": URL})
    )
    monkeypatch.delenv("GATEWAY_STREAM_URL", raising=False)  # read at start: not again
    stream = draft_stream("web:abc")
    assert stream is not None and (stream.url, stream.token) == (URL, "t")
    stream.close()


async def test_the_document_action_streams_guarded_sentences(
    model: ScriptedGenerator,
    domain: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    citation = Citation("policies/returns.md", "Returns", "Refund timing", "/docs/returns.md")
    text = "We refund returned goods within 5 working days. Card refunds take 3 more days."
    found = [Passage(text, 0.7, 0.7, citation, "r1")]
    monkeypatch.setattr(documents, "_search", lambda question: (found, Threshold(0.40)))
    model.answer = "We refund returns within 5 working days. Card refunds take 3 more days."
    client, seen = recording()
    monkeypatch.setattr(
        documents, "draft_stream", lambda sender: DraftStream(sender, URL, "t", client)
    )
    dispatcher = CollectingDispatcher()
    await ActionAnswerDocumentQuestion().run(
        dispatcher, tracker(text="how long do refunds take?", intent="ask_document"), domain
    )
    drafts = [json.loads(r.content)["text"] for r in seen]
    # The best passage with its source first, then the generated sentences as they pass.
    assert drafts[0].startswith(text) and "(Source: Returns" in drafts[0]
    assert drafts[1:] == ["We refund returns within 5 working days."]
    assert dispatcher.messages[0]["text"].startswith(model.answer)
