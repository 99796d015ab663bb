"""What the user is told about a handoff, in one place: honest about who is there and when."""

from __future__ import annotations

import re

from connectors.handoff.hours import Availability, BusinessHours, when

PHONE = "+44 161 555 0100"

ESCALATED_OPEN = (
    "I'm passing you to a colleague from our team. They can see our conversation so far, so "
    "you won't need to repeat anything. A colleague will reply here, normally within a few "
    "minutes."
)
ESCALATED_NO_AGENT = (
    "I've passed your conversation to our team, but nobody is free to chat right now. "
    "Please leave your message here, with the best email or phone number to reach you if you "
    "like: a colleague will reply in this chat as soon as one is free. If it's urgent, you can "
    f"call us on {PHONE}."
)
ESCALATED_CLOSED = (
    "Our team is offline at the moment (we're open {hours}) and will be back {back}. Please "
    "leave your message here, with the best email or phone number to reach you if you like: "
    "it's saved, and a colleague will reply in this chat when we're back."
)
WAITING_ACK = "Thanks, I've added that to your request. A colleague will reply here."
WAITING_ACK_CLOSED = (
    "Thanks, your message is saved for the team. "
    "A colleague will reply here when we're back {back}."
)
CSAT_THANKS = "Thanks for rating the help {score} out of 5. What else can I do for you?"
CSAT_SORRY = (
    "Thanks for rating the help {score} out of 5. I'm sorry it wasn't better; your feedback goes "
    "to the team leader. What else can I do for you?"
)

_RATING = re.compile(r"^\s*(?:/csat\s+)?([1-5])\s*(?:/\s*5|out of 5|stars?|★+)?\s*[.!]?\s*$", re.I)


def escalated(availability: Availability, hours: BusinessHours, now: float) -> str:
    """The reply to the message that started a handoff."""
    if availability.reason == "open":
        return ESCALATED_OPEN
    if availability.reason == "no_agent":
        return ESCALATED_NO_AGENT
    return ESCALATED_CLOSED.format(hours=hours.describe(), back=_back(availability, now))


def waiting_ack(availability: Availability, now: float) -> str:
    """The one acknowledgement of the first message a user sends while nobody has joined."""
    if availability.reason == "out_of_hours":
        return WAITING_ACK_CLOSED.format(back=_back(availability, now))
    return WAITING_ACK


def rating(text: str) -> int | None:
    """The 1-5 rating in a message ("4", "5/5", "3 stars", the ``/csat 4`` button), or None.

    Example:
        >>> rating("/csat 4"), rating("5 stars"), rating("I have another question")
        (4, 5, None)
    """
    match = _RATING.match(text)
    return int(match.group(1)) if match else None


def rating_thanks(score: int) -> str:
    """The reply to a rating."""
    return (CSAT_SORRY if score <= 2 else CSAT_THANKS).format(score=score)


def _back(availability: Availability, now: float) -> str:
    if availability.next_open is None:
        return "soon"
    return when(availability.next_open, now)
