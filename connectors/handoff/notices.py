"""What the user is told about a handoff, in one place: honest about who is there and when.

The sentences are in i18n/messages.yml (``notice.*``), in each language the assistant speaks.
"""

from __future__ import annotations

import re

from connectors.handoff.hours import Availability, BusinessHours, when
from i18n.languages import Language
from i18n.texts import say

PHONE = "+44 161 555 0100"

_RATING = re.compile(r"^\s*(?:/csat\s+)?([1-5])\s*(?:/\s*5|out of 5|stars?|★+)?\s*[.!]?\s*$", re.I)


def escalated(
    availability: Availability, hours: BusinessHours, now: float, language: Language = "en"
) -> str:
    """The reply to the message that started a handoff, in the conversation's language."""
    if availability.reason == "open":
        return say("notice.escalated_open", language)
    if availability.reason == "no_agent":
        return say("notice.escalated_no_agent", language, phone=PHONE)
    return say(
        "notice.escalated_closed",
        language,
        hours=hours.describe(language),
        back=_back(availability, now, language),
    )


def waiting_ack(availability: Availability, now: float, language: Language = "en") -> str:
    """The one acknowledgement of the first message a user sends while nobody has joined."""
    if availability.reason == "out_of_hours":
        return say("notice.waiting_ack_closed", language, back=_back(availability, now, language))
    return say("notice.waiting_ack", language)


def rating(text: str) -> int | None:
    """The 1-5 rating in a message ("4", "5/5", "3 stars", the ``/csat 4`` button), or None.

    Example:
        >>> rating("/csat 4"), rating("5 stars"), rating("I have another question")
        (4, 5, None)
    """
    match = _RATING.match(text)
    return int(match.group(1)) if match else None


def rating_thanks(score: int, language: Language = "en") -> str:
    """The reply to a rating."""
    return say("notice.csat_sorry" if score <= 2 else "notice.csat_thanks", language, score=score)


def _back(availability: Availability, now: float, language: Language) -> str:
    if availability.next_open is None:
        return say("when.soon", language)
    return when(availability.next_open, now, language)
