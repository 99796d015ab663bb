"""The one path every channel's message takes to Rasa and back.

Input limits, per-client rate limiting, the transcript and logging (conversation ids as
short hashes, never the user's text) are applied here and nowhere else, so a channel only
parses its platform's payload and renders replies.

Human handoff routes here too: while a person owns the conversation, the user's messages
are stored and passed to the agent side and Rasa gets none of them; a rating after a
hand-back is stored and not sent to Rasa; and the gateway's triggers (a "Talk to a person"
button, sensitive topics, frustration) are checked before Rasa, the action server's (asking
for a person in any words, repeated fallbacks) in Rasa's reply.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

import anyio.to_thread

from connectors.errors import (
    GatewayError,
    InvalidMessage,
    RasaUnavailable,
    RateLimited,
    StoreUnavailable,
)
from connectors.handoff import notices
from connectors.handoff.queue import HandoffQueue
from connectors.handoff.triggers import Escalation, TriggerDetector, from_replies
from connectors.language import conversation_language
from connectors.messages import IncomingMessage, OutgoingMessage
from connectors.metrics import GatewayMetrics
from connectors.rasa_client import AssistantClient
from connectors.ratelimit import Limiter
from connectors.store import GatewayStore
from connectors.validation import clean_text
from contracts.logs import conversation_logged
from contracts.redaction import conversation_tag
from i18n.languages import DEFAULT_LANGUAGE, Language, detect_language
from i18n.texts import say

logger = logging.getLogger("connectors")

UNAVAILABLE_MESSAGE = "the assistant is temporarily unavailable, please try again"

# Called with each message Rasa has just answered (the web channel checks for a verification).
RasaTurnHook = Callable[[IncomingMessage], None]


class Turns:
    """Takes one user message through limits, Rasa and the transcript.

    ``rasa`` is attached by the app's lifespan, once the shared HTTP client exists.
    ``metrics`` counts the turns, handoffs and errors (the app's; a registry of its own if
    none is given).
    ``after_rasa`` hooks run (synchronously: they start background work, not await it) for
    each message Rasa answered, so a channel can look at the conversation's new state.

    Example:
        >>> turns = Turns(store=GatewayStore(":memory:"), limiter=RateLimiter(per_minute=60,
        ...               burst=20), max_chars=2000)
        >>> turns.rasa = rasa_client
        >>> replies = await turns.handle(IncomingMessage("web:abc", "web", "hi"))
    """

    rasa: AssistantClient

    def __init__(
        self,
        *,
        store: GatewayStore,
        limiter: Limiter,
        max_chars: int,
        queue: HandoffQueue | None = None,
        detector: TriggerDetector | None = None,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self.metrics = metrics or GatewayMetrics()
        self.store = store
        self.limiter = limiter
        self.max_chars = max_chars
        self.queue = queue
        self.detector = detector
        self.after_rasa: list[RasaTurnHook] = []

    async def handle(self, message: IncomingMessage) -> list[OutgoingMessage]:
        """Validate, rate-limit, send to Rasa, record both sides, log and count the turn.

        Every line logged during the turn carries its conversation tag (`connectors.logs`).

        Raises:
            InvalidMessage: the text is empty or too long after cleaning.
            RateLimited: the message's client is over the per-client rate (whatever
                conversation it writes in).
            RasaUnavailable: Rasa gave no reply.
        """
        started = time.perf_counter()
        outcome = "internal"
        with conversation_logged(conversation_tag(message.sender_id)):
            try:
                replies, outcome = await self._handle(message)
                return replies
            except InvalidMessage:
                outcome = "invalid_message"
                raise
            except RateLimited:
                outcome = "rate_limited"
                raise
            except RasaUnavailable:
                outcome = "rasa_unavailable"
                raise
            finally:
                self.metrics.turn(message.channel, outcome, time.perf_counter() - started)

    async def _handle(self, message: IncomingMessage) -> tuple[list[OutgoingMessage], str]:
        """The turn's replies and who answered: ``rasa`` or ``handoff`` (the handoff path)."""
        text = clean_text(message.text)
        if not text:
            raise InvalidMessage("text must not be empty")
        if len(text) > self.max_chars:
            raise InvalidMessage(f"text is longer than {self.max_chars} characters ({len(text)})")
        wait = await self.limiter.take(message.client or message.sender_id)
        if wait > 0:
            logger.warning(
                "rate limited channel=%s conversation=%s retry_after=%.1fs",
                message.channel,
                conversation_tag(message.sender_id),
                wait,
            )
            raise RateLimited(message.sender_id, wait)
        message = dataclasses.replace(message, text=text)
        shown = message.shown or await self.store.button_title(message.sender_id, text) or text
        transcript_id = await self.store.append_user(message.sender_id, shown)
        started = time.perf_counter()
        handled = await self._before_rasa(message, transcript_id)
        if handled is not None:
            await self.store.append_bot(message.sender_id, handled)
            return handled, "handoff"
        replies = await self.rasa.send(message)
        rasa_ms = (time.perf_counter() - started) * 1000
        if self.queue is not None:
            escalation, replies = from_replies(replies)
            if escalation is not None:
                replies = [*replies, *await self._escalate(message, escalation)]
        await self.store.append_bot(message.sender_id, replies)
        # Neither the conversation id (it may carry a session key or an email) nor the text.
        logger.info(
            "turn channel=%s conversation=%s chars=%d replies=%d rasa_ms=%.0f",
            message.channel,
            conversation_tag(message.sender_id),
            len(text),
            len(replies),
            rasa_ms,
        )
        for hook in self.after_rasa:
            try:
                hook(message)
            except Exception:
                # Follow-up work must never cost the user the answer they already have.
                logger.exception(
                    "after-turn hook failed for %s", conversation_tag(message.sender_id)
                )
        return replies, "rasa"

    async def _before_rasa(
        self, message: IncomingMessage, transcript_id: int
    ) -> list[OutgoingMessage] | None:
        """The replies when the handoff path takes the message, or None to ask Rasa."""
        queue = self.queue
        if queue is None:
            return None
        ownership = await queue.ownership(message.sender_id)
        if ownership.owner == "human" and ownership.handoff_id is not None:
            handoff = await queue.get(ownership.handoff_id)
            if handoff is not None and handoff.open:
                first = await queue.user_message(handoff, transcript_id)
                if first is not None:
                    logger.info("turn channel=%s conversation=%s held for handoff %d (%s)",
                                message.channel, conversation_tag(message.sender_id),
                                handoff.id, handoff.status)  # fmt: skip
                    if first and handoff.status == "waiting":
                        available = await queue.availability()
                        language = await self._language(message)
                        ack = notices.waiting_ack(available, queue.clock(), language)
                        return [OutgoingMessage(text=ack)]
                    return []
                # Resolved meanwhile (on any replica): the bot answers; a rating may be due.
                ownership = await queue.ownership(message.sender_id)
        if ownership.csat_handoff_id is not None:
            score = notices.rating(message.text)
            if score is not None and await queue.rate(message.sender_id, score) is not None:
                logger.info("handoff %d rated %d", ownership.csat_handoff_id, score)
                language = await self._language(message)
                return [OutgoingMessage(text=notices.rating_thanks(score, language))]
            await queue.forget_rating(message.sender_id)
        escalation = await self._check_triggers(message)
        if escalation is None:
            return None
        return await self._escalate(message, escalation)

    async def _check_triggers(self, message: IncomingMessage) -> Escalation | None:
        detector = self.detector
        if detector is None:
            return None
        previous = None
        for entry in reversed((await self.store.history(message.sender_id, limit=20))[:-1]):
            if entry["role"] == "user":
                previous = entry["text"]
                break
        try:
            return await anyio.to_thread.run_sync(
                lambda: detector.before_rasa(message.text, previous=previous)
            )
        except Exception:
            # A broken trigger must never cost the user their answer.
            logger.exception("handoff triggers failed; the message goes to Rasa")
            return None

    async def _escalate(
        self, message: IncomingMessage, escalation: Escalation
    ) -> list[OutgoingMessage]:
        queue = self.queue
        assert queue is not None
        await queue.escalate(
            message.sender_id,
            message.channel,
            escalation.trigger,
            slots=escalation.slots,
            queue="staff" if message.staff else escalation.queue,
            priority=escalation.priority,
        )
        self.metrics.handoff(escalation.trigger.rule)
        available = await queue.availability()
        language = await self._language(message)
        return [
            OutgoingMessage(text=notices.escalated(available, queue.hours, queue.clock(), language))
        ]

    async def _language(self, message: IncomingMessage) -> Language:
        """The language of the gateway's own sentences in reply to ``message``."""
        return await conversation_language(
            self.store, message.sender_id, text=message.text, hint=message.metadata.get("language")
        )


def user_notice(error: GatewayError, text: str = "") -> str:
    """What a chat user is told when their message (``text``) could not be answered, in the
    message's language.

    The one place gateway errors become chat text (HTTP codes for the REST API are chosen
    in gateway.py).
    """
    language = detect_language(text) or DEFAULT_LANGUAGE
    if isinstance(error, RateLimited):
        seconds = max(1, round(error.retry_after))
        return say("gateway.rate_limited", language, seconds=seconds)
    if isinstance(error, InvalidMessage):
        return say("gateway.invalid", language, reason=error.reason)
    if isinstance(error, RasaUnavailable | StoreUnavailable):
        return say("gateway.unavailable", language)
    return say("gateway.failed", language)
