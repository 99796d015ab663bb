"""Turning errors into replies, in one place, for actions and form validations alike."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa_sdk.executor import CollectingDispatcher

from actions.metrics import error_replied
from erp.errors import (
    AccessDenied,
    ErpError,
    ErpUnavailable,
    InvalidIdentifier,
    NotKept,
    RecordNotFound,
    StateUnavailable,
)
from i18n.texts import current_language, messages, say

logger = logging.getLogger(__name__)


def reply_for(error: Exception) -> str:
    """The message a user sees for an error raised while answering."""
    if isinstance(error, ErpUnavailable | StateUnavailable):  # the lockout counts' database
        return say("error.unavailable")
    if isinstance(error, RecordNotFound | AccessDenied):
        return say("error.not_found")
    if isinstance(error, InvalidIdentifier):
        return invalid_identifier(error, apology=False)
    if isinstance(error, NotKept):
        return say("error.not_kept", concept=error.concept.replace("_", " "))
    return say("error.failed")


def invalid_identifier(error: InvalidIdentifier, *, apology: bool = True) -> str:
    """What is wrong with a typed identifier, in this turn's language."""
    if current_language() == "en":
        return f"Sorry, {error}." if apology else str(error)
    shown = error.value.strip()[:40] or "''"
    kind = say(f"kind.{error.kind}") if f"kind.{error.kind}" in messages() else error.kind
    return say("error.invalid_id", shown=shown, kind=kind)


async def guarded(
    dispatcher: CollectingDispatcher,
    work: Callable[[], Awaitable[list[dict[str, Any]]]],
    *,
    on_error: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Run `work`; on an error, tell the user what happened and return `on_error` events."""
    try:
        return await work()
    except ErpError as error:
        logger.warning("answering failed: %s: %s", type(error).__name__, error)
        error_replied(error)
        dispatcher.utter_message(text=reply_for(error))
        return on_error
    except Exception as error:  # a bug must still give the user a reply, never silence
        logger.exception("unexpected error while answering")
        error_replied(error)
        dispatcher.utter_message(text=reply_for(error))
        return on_error
