"""Customer verification shared by the order, invoice and unpaid-invoice forms."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from erp.ids import extract_identity, find_identity

MAX_ATTEMPTS = 3
VERIFIED = "verified"
QUESTION_SLOTS = (
    "order_number",
    "invoice_number",
    "sku",
    "quantity",
    "identity",
    "email",
    "postcode",
)

NOT_VERIFIED = (
    "Sorry, I can't verify those details. Please check the email address or postcode and try again."
)
GIVE_UP = (
    "Sorry, I still can't verify those details, so I can't share anything about it. "
    "If you think our records are wrong, ask me for a colleague."
)


def question_reset_events() -> list[dict[str, Any]]:
    """Forget the current question and its verification tries, keep who is verified."""
    return [SlotSet(slot, None) for slot in QUESTION_SLOTS] + [SlotSet("verification_attempts", 0)]


def attempts(tracker: Tracker) -> int:
    """How many verification tries failed for the current question."""
    return int(tracker.get_slot("verification_attempts") or 0)


def attempts_exhausted(tracker: Tracker) -> bool:
    return attempts(tracker) >= MAX_ATTEMPTS


def verified_customer(tracker: Tracker) -> int | None:
    """The customer this conversation is verified for, if any."""
    value = tracker.get_slot("verified_customer_id")
    return int(value) if value is not None else None


def failed_attempt(dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
    """Count a failed try and say so neutrally: the reply never tells why it failed."""
    count = attempts(tracker) + 1
    dispatcher.utter_message(text=GIVE_UP if count >= MAX_ATTEMPTS else NOT_VERIFIED)
    return {"verification_attempts": count}


def is_staff(tracker: Tracker) -> bool:
    """True when the gateway marked the latest message as sent by a known staff member.

    Only the gateway sets this (from the Slack user id); clients cannot claim it.
    """
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            metadata = event.get("metadata") or {}
            return bool(metadata.get("role") == "staff")
    return False


def typed_identity(value: Any, tracker: Tracker) -> str:
    """The email or postcode the user typed this turn.

    Read from the message itself first: an entity extractor may have cut an address short.
    """
    latest = str(tracker.latest_message.get("text") or "")
    return extract_identity(latest) or find_identity(first_text(value))


def first_text(value: Any) -> str:
    """A slot value as text: entity slots may hold a list when several were found."""
    if isinstance(value, list):
        value = value[0] if value else ""
    return "" if value is None else str(value)
