"""The one path every channel's message takes to Rasa and back.

Input limits, per-sender rate limiting, the transcript and redacted logging are applied
here and nowhere else, so a channel only parses its platform's payload and renders replies.
"""

from __future__ import annotations

import dataclasses
import logging
import time

from connectors.errors import GatewayError, InvalidMessage, RasaUnavailable, RateLimited
from connectors.messages import IncomingMessage, OutgoingMessage
from connectors.rasa_client import AssistantClient
from connectors.ratelimit import RateLimiter
from connectors.redaction import redact
from connectors.store import GatewayStore
from connectors.validation import clean_text

logger = logging.getLogger("connectors")

UNAVAILABLE_MESSAGE = "the assistant is temporarily unavailable, please try again"


class Turns:
    """Takes one user message through limits, Rasa and the transcript.

    ``rasa`` is attached by the app's lifespan, once the shared HTTP client exists.

    Example:
        >>> turns = Turns(store=GatewayStore(":memory:"), limiter=RateLimiter(per_minute=60,
        ...               burst=20), max_chars=2000)
        >>> turns.rasa = rasa_client
        >>> replies = await turns.handle(IncomingMessage("web:abc", "web", "hi"))
    """

    rasa: AssistantClient

    def __init__(self, *, store: GatewayStore, limiter: RateLimiter, max_chars: int) -> None:
        self.store = store
        self.limiter = limiter
        self.max_chars = max_chars

    async def handle(self, message: IncomingMessage) -> list[OutgoingMessage]:
        """Validate, rate-limit, send to Rasa, record both sides and log the turn.

        Raises:
            InvalidMessage: the text is empty or too long after cleaning.
            RateLimited: the sender is over the per-sender rate.
            RasaUnavailable: Rasa gave no reply.
        """
        text = clean_text(message.text)
        if not text:
            raise InvalidMessage("text must not be empty")
        if len(text) > self.max_chars:
            raise InvalidMessage(f"text is longer than {self.max_chars} characters ({len(text)})")
        wait = self.limiter.acquire(message.sender_id)
        if wait > 0:
            logger.warning(
                "rate limited channel=%s sender=%s retry_after=%.1fs",
                message.channel,
                redact(message.sender_id),
                wait,
            )
            raise RateLimited(message.sender_id, wait)
        message = dataclasses.replace(message, text=text)
        shown = message.shown or await self.store.button_title(message.sender_id, text) or text
        await self.store.append_user(message.sender_id, shown)
        started = time.perf_counter()
        replies = await self.rasa.send(message)
        await self.store.append_bot(message.sender_id, replies)
        logger.info(
            "turn channel=%s sender=%s chars=%d replies=%d",
            message.channel,
            redact(message.sender_id),
            len(text),
            len(replies),
        )
        logger.debug(
            "turn text from %s: %s (%.0f ms in Rasa)",
            redact(message.sender_id),
            redact(text),
            (time.perf_counter() - started) * 1000,
        )
        return replies


def user_notice(error: GatewayError) -> str:
    """What a chat user is told when their message could not be answered.

    The one place gateway errors become chat text (HTTP codes for the REST API are chosen
    in gateway.py).
    """
    if isinstance(error, RateLimited):
        return (
            "You're sending messages faster than I can answer. "
            f"Please wait {max(1, round(error.retry_after))} s and try again."
        )
    if isinstance(error, InvalidMessage):
        return f"Sorry, I can't read that message: {error.reason}."
    if isinstance(error, RasaUnavailable):
        return "Sorry, " + UNAVAILABLE_MESSAGE + "."
    return "Sorry, something went wrong on our side. Please try again."
