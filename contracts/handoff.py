"""A handoff request: the custom message in which the action server asks the gateway to hand
the conversation to a person.

actions/handoff.py sends ``{"handoff": {"rule", "score", "detail", "slots"}}`` with a short
text; the gateway (connectors/handoff/triggers.py) finds it in Rasa's reply, opens the
handoff and tells the user itself. What arrives through Rasa is not trusted: a request the
gateway cannot read is ignored (``parse_handoff`` returns None) and the reply goes on.

Example:
    >>> message = handoff_message("user_request", 0.97, "asked", {"order_number": "SO-100123"})
    >>> parse_handoff(message[HANDOFF])
    RequestedHandoff(rule='user_request', score=0.97, detail='asked', slots={'order_number': ...})
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

# The key of the custom message that carries the request.
HANDOFF = "handoff"
USER_REQUEST = "user_request"
REPEATED_FALLBACK = "repeated_fallback"
# A change the company's ERP mapping declares no write for (cancel, address, return): the user
# is told a colleague takes the request over, with what the conversation verified.
WRITE_NOT_SUPPORTED = "write_not_supported"
# The rules the gateway opens a handoff for.
RULES = (USER_REQUEST, REPEATED_FALLBACK, WRITE_NOT_SUPPORTED)
SCORE_DIGITS = 3


class HandoffRequest(TypedDict):
    """What the action server knows when it asks: the rule, the intent confidence (None when
    there is none), a line for the agent and the slots an agent may rely on."""

    rule: str
    score: float | None
    detail: str
    slots: dict[str, Any]


class HandoffMessage(TypedDict):
    """The custom message (``json_message``) that carries a handoff request."""

    handoff: HandoffRequest


@dataclass(frozen=True)
class RequestedHandoff:
    """A request as the gateway read it: ``score`` rounded, ``detail`` never empty, and
    ``slots`` None when the request carried none it could use."""

    rule: str
    score: float | None
    detail: str
    slots: dict[str, Any] | None


def handoff_message(
    rule: str, score: float | None, detail: str, slots: dict[str, Any]
) -> HandoffMessage:
    """The custom message the gateway acts on (for a rule in RULES)."""
    return {"handoff": {"rule": rule, "score": score, "detail": detail, "slots": slots}}


def parse_handoff(request: Any) -> RequestedHandoff | None:
    """Read the value under ``"handoff"``; None when it is not an object, its rule is not in
    RULES or its score is neither a number nor null."""
    if not isinstance(request, dict) or not isinstance(request.get("rule"), str):
        return None
    rule = request["rule"]
    if rule not in RULES:
        return None
    score = request.get("score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
        return None
    slots = request.get("slots")
    detail = request.get("detail")
    return RequestedHandoff(
        rule=rule,
        score=None if score is None else round(float(score), SCORE_DIGITS),
        detail=str(detail) if detail else rule.replace("_", " "),
        slots=slots if isinstance(slots, dict) else None,
    )
