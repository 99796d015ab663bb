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

logger = logging.getLogger(__name__)

UNAVAILABLE = (
    "Sorry, I can't reach our order system right now. Please try again in a few minutes, "
    "or ask for a colleague."
)
NOT_FOUND = (
    "Sorry, I can't find that for your account. Please check the number, or ask for a colleague."
)
FAILED = (
    "Sorry, something went wrong while I was looking that up. Please try again, "
    "or ask for a colleague."
)


def reply_for(error: Exception) -> str:
    """The message a user sees for an error raised while answering."""
    if isinstance(error, ErpUnavailable | StateUnavailable):  # the lockout counts' database
        return UNAVAILABLE
    if isinstance(error, RecordNotFound | AccessDenied):
        return NOT_FOUND
    if isinstance(error, InvalidIdentifier):
        return str(error)
    if isinstance(error, NotKept):
        return (
            f"Sorry, I can't answer questions about {error.concept.replace('_', ' ')}s here: "
            "our system doesn't keep them. A colleague can help; just ask for one."
        )
    return FAILED


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
