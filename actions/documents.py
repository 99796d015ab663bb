"""Policy and product questions: answered from the company's documents, with citations.

The action retrieves passages and refuses below the calibrated similarity (offering a
person). Above it, the extractive answer (`reply_builder`: the best passages themselves,
with their sources) is shown at once as a draft, and the answering service
(`actions.answering`) lets the fine-tuned generator replace it when the model is free in
time and its answer passes the grounding guard. Citations always come from the retrieved
passages, never from the model's text.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.answering import Worded, answering_service
from actions.base import AnswerAction
from actions.handoff import fallback_turn
from actions.streaming import draft_stream
from contracts.citations import citations_message
from i18n.languages import detect_language
from i18n.texts import say
from models.answer import supporting_items
from models.examples import ContextItem
from retrieval.errors import InvalidQuery, RetrievalError
from retrieval.types import Citation, Passage

if TYPE_CHECKING:
    from retrieval.settings import RetrievalSettings

logger = logging.getLogger(__name__)

TOP_K = 5
MAX_ANSWER_CHARS = 700
# A second passage is shown too when it scores almost as well as the first.
SECOND_PASSAGE_MARGIN = 0.05


@dataclass(frozen=True)
class DocumentReply:
    """What the bot says: the answer text and the citations it rests on."""

    text: str
    citations: list[Citation] = field(default_factory=list)

    def message(self) -> dict[str, Any]:
        """Keyword arguments for `dispatcher.utter_message`; citations travel in `custom`
        (contracts/citations.py)."""
        return {"text": self.text, "json_message": citations_message(self.citations)}


ReplyBuilder = Callable[[str, Sequence[Passage]], DocumentReply]


@dataclass(frozen=True)
class Threshold:
    """Below what a passage does not answer: its similarity to the question, or for a
    question in Chinese its keyword (BM25) score, since the English-trained encoder's
    similarity does not tell Chinese answers from off-topic questions (docs/benchmarks.md)."""

    min_similarity: float
    min_keyword: float | None = None


def confident(passages: Sequence[Passage], threshold: Threshold) -> list[Passage]:
    """The passages, in rank order, that reach ``threshold``."""
    if threshold.min_keyword is not None:
        return [p for p in passages if p.keyword >= threshold.min_keyword]
    return [p for p in passages if p.similarity >= threshold.min_similarity]


def _excerpt(text: str) -> str:
    if len(text) <= MAX_ANSWER_CHARS:
        return text
    cut = text[:MAX_ANSWER_CHARS].rsplit(" ", 1)[0]
    return cut + " …"


def _source_lines(citations: Sequence[Citation]) -> str:
    return "\n".join(say("doc.source", label=c.label, url=c.url) for c in citations)


def extractive_reply(question: str, passages: Sequence[Passage]) -> DocumentReply:
    """The best passage (and a close second from another section), each with its source."""
    chosen = [passages[0]]
    for passage in passages[1:]:
        if passage.citation == chosen[0].citation:
            continue
        if passages[0].score - passage.score <= SECOND_PASSAGE_MARGIN:
            chosen.append(passage)
        break
    parts = [f"{_excerpt(p.text)}\n{_source_lines([p.citation])}" for p in chosen]
    return DocumentReply(text="\n\n".join(parts), citations=[p.citation for p in chosen])


def passage_items(passages: Sequence[Passage]) -> list[ContextItem]:
    """Retrieved passages as generator context, the way the training data renders them."""
    return [ContextItem(p.citation.label, p.text, p.chunk_id) for p in passages]


def cited_reply(
    worded: Worded, passages: Sequence[Passage], extractive: DocumentReply
) -> DocumentReply:
    """The reply to send: the generated answer with the sources of the passages it drew on.

    A refusal by the model is not taken at its word: the passages already cleared the
    retrieval threshold (calibrated: 97.9% of answerable questions answered, 90.8% of
    off-topic ones refused), while the model's refusals are right about half the time on
    held-out data (precision 52.6%, docs/benchmarks.md), so the passages are shown instead.
    """
    if worded.wording != "generated" or worded.answer is None:
        return extractive
    by_ref = {p.chunk_id: p.citation for p in passages}
    citations: list[Citation] = []
    for item in supporting_items(worded.text, worded.answer.items):
        citation = by_ref.get(item.ref)
        if citation is not None and citation not in citations:
            citations.append(citation)
    return DocumentReply(text=f"{worded.text}\n{_source_lines(citations)}", citations=citations)


def _question(tracker: Tracker) -> str:
    text = str(tracker.latest_message.get("text") or "").strip()
    return "" if text.startswith("/") else text  # a button payload is not a question


@functools.cache
def _retrieval_settings() -> RetrievalSettings:
    """The retrieval settings (the refusal thresholds), read once per process."""
    from retrieval.settings import RetrievalSettings

    return RetrievalSettings.from_env()


def _search(question: str) -> tuple[list[Passage], Threshold]:
    settings = _retrieval_settings()
    chinese = detect_language(question) == "zh"
    threshold = Threshold(settings.min_similarity, settings.min_keyword_zh if chinese else None)
    return answering_service().search(question, TOP_K), threshold


class ActionAnswerDocumentQuestion(AnswerAction):
    """Answers from the company documents with citations, or says it doesn't know."""

    reply_builder: ClassVar[ReplyBuilder] = staticmethod(extractive_reply)

    def name(self) -> str:
        return "action_answer_document_question"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        question = _question(tracker)
        if not question:
            dispatcher.utter_message(response="utter_document_unknown")
            return []
        try:
            passages, threshold = await asyncio.to_thread(_search, question)
        except InvalidQuery:
            dispatcher.utter_message(response="utter_document_unknown")
            return []
        except RetrievalError as error:
            logger.warning("document search unavailable: %s", error)
            dispatcher.utter_message(response="utter_document_unavailable")
            return []
        usable = confident(passages, threshold)
        if not usable:
            best = passages[0].similarity if passages else None
            logger.info("no confident passage (best %s < %s): %r", best, threshold, question)
            # "I don't know" is a fallback: the second in a row hands over to a person.
            return fallback_turn(dispatcher, tracker, response="utter_document_unknown")
        extractive = type(self).reply_builder(question, usable)
        stream = draft_stream(tracker.sender_id)
        try:
            worded = await answering_service().document_answer(
                question, passage_items(usable), extractive.text, show=stream
            )
        finally:
            if stream is not None:
                stream.close()
        dispatcher.utter_message(**cited_reply(worded, usable, extractive).message())
        return []
