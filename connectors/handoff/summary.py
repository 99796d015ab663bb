"""The short summary an agent reads first: the customer's issue, what is known, why escalated.

The extractive summary (the user's key messages, the known facts, the trigger) is instant
and never says anything the conversation did not. Facts come from the handoff's stored
slots (`connectors.handoff.facts`): a customer and records are "verified" only when the
conversation proved them, and every other order or invoice number, in the facts and in the
quoted messages, is marked as not verified. With HANDOFF_SUMMARY=generator (the default)
``generated_summary`` asks the generator process (GENERATOR_URL, through `models.remote`,
imported lazily; the gateway never loads the model itself) for one grounded sentence after
the handoff exists; the queue then publishes an ``updated`` event.
The sentence is added above the extractive facts, never instead of them, and is dropped
when it names a record the conversation did not verify. Summaries are optional: at most
``MAX_GENERATING`` are generated at a time per process; the others keep the extractive one.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from connectors.handoff.facts import (
    context_facts,
    mark_unverified,
    unverified_numbers,
    verified_records,
)
from connectors.store import HistoryEntry

if TYPE_CHECKING:
    from connectors.handoff.queue import Trigger
    from models.settings import GeneratorSettings

logger = logging.getLogger("connectors")

Summarizer = Callable[[Sequence[HistoryEntry], Mapping[str, Any], "Trigger"], str]

MAX_KEY_MESSAGES = 3
MAX_QUOTE_CHARS = 160
GENERATOR_PROMPT_CHARS = 1500
# Handoff summaries generated at once in this process; more would only queue worker threads
# behind the one model (each waiting seconds), so the rest keep the extractive summary.
MAX_GENERATING = 1
_generating = threading.BoundedSemaphore(MAX_GENERATING)
_SMALL_TALK = re.compile(
    r"^(hi|hello|hey|thanks?( you)?|thank you|ok(ay)?|yes|no|bye|goodbye|good (morning|afternoon)"
    r"|cheers|please|help|talk to a (person|human)|agent|human)[ !.?]*$",
    re.IGNORECASE,
)
# What makes a message carry the issue: references, money, problem words.
_REFERENCE = re.compile(r"\b(SO|INV|RMA|PO)-?\d{3,}\b|\b[A-Z]{2,4}-\d{3,}\b|[£€$]\s?\d", re.I)
_PROBLEM = re.compile(
    r"\b(not|never|no|wrong|late|missing|broken|damaged|refund|charged|cancel|complain\w*|"
    r"still|again|delete|lawyer|legal|sue|urgent|problem|issue|error)\b",
    re.IGNORECASE,
)


def summarize(history: Sequence[HistoryEntry], slots: Mapping[str, Any], trigger: Trigger) -> str:
    """An extractive summary: the issue in the user's words, the known facts, the trigger.

    ``slots`` are the handoff's stored slots (`connectors.handoff.facts.handoff_slots`).
    Order and invoice numbers the conversation did not verify are marked in the quotes.

    Example:
        >>> summarize([{"role": "user", "text": "order SO-100123 never arrived", "buttons": [],
        ...             "image": None, "at": 0.0}], {"verified_customer_id": 42,
        ...           "verified_records": ["SO-100123"]},
        ...           Trigger("user_request", 0.93, "asked for a person")).splitlines()
        ['Issue: "order SO-100123 never arrived"',
         'Known: verified customer 42, order SO-100123 (verified)',
         'Escalated: user_request (0.93): asked for a person']
    """
    lines = []
    verified = verified_records(slots)
    quotes = [mark_unverified(quote, verified) for quote in key_messages(history)]
    lines.append(
        "Issue: " + (" / ".join(f'"{q}"' for q in quotes) if quotes else "(no message yet)")
    )
    known = known_facts(slots)
    if known:
        lines.append("Known: " + ", ".join(known))
    score = "" if trigger.score is None else f" ({trigger.score:.2f})"
    lines.append(f"Escalated: {trigger.rule}{score}: {trigger.detail}")
    return "\n".join(lines)


def key_messages(history: Sequence[HistoryEntry], limit: int = MAX_KEY_MESSAGES) -> list[str]:
    """Up to ``limit`` user messages that best state the issue, in the order they were said.

    Small talk and button payloads are skipped; messages with references (order, invoice,
    money) or problem words rank first, then the most recent.
    """
    candidates: list[tuple[int, int, str]] = []
    for index, entry in enumerate(history):
        text = (entry.get("text") or "").strip()
        if entry.get("role") != "user" or not text or text.startswith("/"):
            continue
        if _SMALL_TALK.match(text):
            continue
        weight = 2 * bool(_REFERENCE.search(text)) + bool(_PROBLEM.search(text))
        weight += min(len(text.split()), 12) // 6
        candidates.append((weight, index, _quote(text)))
    best = sorted(candidates, key=lambda c: (c[0], c[1]), reverse=True)[:limit]
    return [quote for _, _, quote in sorted(best, key=lambda c: c[1])]


def known_facts(slots: Mapping[str, Any]) -> list[str]:
    """What an agent may rely on, as ``label value (note)`` strings (see `context_facts`)."""
    return [fact.text for fact in context_facts(slots)]


def generator_available() -> bool:
    """True when the project's generator client (models/) is importable here."""
    try:
        return importlib.util.find_spec("models.remote") is not None
    except ImportError:
        return False


SUMMARY_QUESTION = "In one sentence, what is the customer's problem?"


def generator_settings() -> GeneratorSettings | None:
    """The generator's settings (GENERATOR_*, `models.settings`), read once by the queue that
    asks for summaries; None when models/ is missing or a variable cannot be used (logged):
    the summaries then stay extractive."""
    if not generator_available():
        return None
    try:
        from models.settings import GeneratorSettings

        return GeneratorSettings.from_env()
    except (ImportError, ValueError) as error:
        logger.warning("handoff summaries stay extractive: generator settings: %s", error)
        return None


def generated_summary(
    history: Sequence[HistoryEntry],
    extractive: str,
    slots: Mapping[str, Any] | None = None,
    settings: GeneratorSettings | None = None,
) -> str | None:
    """One sentence from the project's generator about the customer's issue, or None.

    The conversation and the extractive facts are the generator's context, and its sentence
    goes through the same grounding guard as every generated answer
    (`models.answer.grounded_answer`): a sentence naming an order, amount or date the
    conversation does not contain is dropped, and so is one naming an order or invoice
    number that ``slots`` (the handoff's stored slots) do not list as verified. Blocking
    (seconds on a CPU): call it in a worker thread, after the handoff exists. Returns None
    at once when ``MAX_GENERATING`` summaries are already being generated, and None when
    the generator is off, missing, busy, refuses or fails (logged); never raises.
    ``settings`` are the generator's (`generator_settings`, read from the environment when
    not given).
    """
    if settings is None:
        settings = generator_settings()
    if settings is None:
        return None
    if not _generating.acquire(blocking=False):
        logger.info("a handoff summary is already being generated; keeping the extractive one")
        return None
    try:
        sentence = _generate(history, extractive, settings)
    finally:
        _generating.release()
    if sentence is None:
        return None
    named = unverified_numbers(sentence, verified_records(slots or {}))
    if named:
        logger.info("generated handoff summary not used: it names unverified %s",
                    ", ".join(named))  # fmt: skip
        return None
    return sentence


def _generate(
    history: Sequence[HistoryEntry], extractive: str, settings: GeneratorSettings
) -> str | None:
    try:
        from models.answer import grounded_answer
        from models.examples import ContextItem
        from models.remote import remote_generator

        generator = remote_generator(settings)
        if generator is None:
            return None
        conversation = "\n".join(
            f"{e['role']}: {e.get('text') or ''}" for e in history if e.get("text")
        )[-GENERATOR_PROMPT_CHARS:]
        context = [
            ContextItem("Conversation with the customer", conversation, "handoff:conversation"),
            ContextItem("What the assistant knows", extractive, "handoff:facts"),
        ]
        result = grounded_answer(
            SUMMARY_QUESTION, context, generator=generator, prompt_tokens=settings.prompt_tokens
        )
    except Exception as error:
        logger.warning("handoff summary generator failed, keeping the extractive one: %r", error)
        return None
    if not result.usable:
        logger.info("generated handoff summary not used (%s)", result.outcome)
        return None
    return result.text.split("\n", 1)[0].strip() or None


def _quote(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= MAX_QUOTE_CHARS:
        return text
    return text[: MAX_QUOTE_CHARS - 1].rsplit(" ", 1)[0] + "…"
