"""Policy and product questions: answered from the company's documents, with citations.

The action retrieves passages, refuses below the calibrated similarity (offering a person),
and otherwise builds its reply through one function, `reply_builder`, which a generator can
replace: it gets the question and the confident passages and returns a DocumentReply.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import AnswerAction
from retrieval.errors import InvalidQuery, RetrievalError
from retrieval.types import Citation, Passage

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
        """Keyword arguments for `dispatcher.utter_message`; citations travel in `custom`."""
        return {
            "text": self.text,
            "json_message": {
                "citations": [
                    {"title": c.title, "section": c.section, "url": c.url, "document": c.document}
                    for c in self.citations
                ]
            },
        }


ReplyBuilder = Callable[[str, Sequence[Passage]], DocumentReply]


def confident(passages: Sequence[Passage], min_similarity: float) -> list[Passage]:
    """The passages, in rank order, whose similarity to the question reaches `min_similarity`."""
    return [p for p in passages if p.similarity >= min_similarity]


def _excerpt(text: str) -> str:
    if len(text) <= MAX_ANSWER_CHARS:
        return text
    cut = text[:MAX_ANSWER_CHARS].rsplit(" ", 1)[0]
    return cut + " …"


def extractive_reply(question: str, passages: Sequence[Passage]) -> DocumentReply:
    """The best passage (and a close second from another section), each with its source."""
    chosen = [passages[0]]
    for passage in passages[1:]:
        if passage.citation == chosen[0].citation:
            continue
        if passages[0].score - passage.score <= SECOND_PASSAGE_MARGIN:
            chosen.append(passage)
        break
    parts = [f"{_excerpt(p.text)}\n(Source: {p.citation.label} – {p.citation.url})" for p in chosen]
    return DocumentReply(text="\n\n".join(parts), citations=[p.citation for p in chosen])


def _question(tracker: Tracker) -> str:
    text = str(tracker.latest_message.get("text") or "").strip()
    return "" if text.startswith("/") else text  # a button payload is not a question


def _search(question: str) -> tuple[list[Passage], float]:
    from retrieval.service import default_retriever
    from retrieval.settings import RetrievalSettings

    threshold = RetrievalSettings.from_env().min_similarity
    return default_retriever().search(question, top_k=TOP_K), threshold


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
            dispatcher.utter_message(response="utter_document_unknown")
            return []
        dispatcher.utter_message(**type(self).reply_builder(question, usable).message())
        return []
