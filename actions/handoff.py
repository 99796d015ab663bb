"""Handing a conversation to a person: asked for in any words, or after two unanswered turns.

Both end in one custom message, ``{"handoff": {"rule", "score", "detail", "slots"}}``
(contracts/handoff.py), with a short text; the gateway sees it in Rasa's reply, opens the
handoff (with the slots, so the agent sees the verified customer and which order or invoice
numbers were verified and which were not) and tells the user who can answer and when, in
place of this text. The text is what a client talking to Rasa directly sees.

Fallbacks are counted here, not in the gateway: the action server sees every fallback
(Rasa's core fallback, the document search's "I don't know", "that's outside what I can help
with") and the NLU confidence, and the count lives in a slot of the tracker, so it survives
restarts of the gateway and of this server. A turn is a fallback when the bot could not
answer it; the second in a row escalates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.metrics import fallback
from actions.verification import first_text, question_reset_events, verification
from contracts.handoff import REPEATED_FALLBACK, USER_REQUEST, handoff_message
from erp.errors import InvalidIdentifier
from erp.invoices import parse_invoice
from erp.orders import parse_order
from i18n.texts import say

LAST_FALLBACK_SLOT = "last_fallback_turn"
# Record numbers the user mentioned, with the parser that normalises each (the ERP's format).
RECORD_SLOTS: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("order_number", parse_order),
    ("invoice_number", parse_invoice),
)
MAX_UNPARSED_CHARS = 40
# Other slots an agent needs, copied into the handoff before the question is forgotten.
CONTEXT_SLOTS = ("sku", "product", "quantity")


def handoff_slots(tracker: Tracker) -> dict[str, Any]:
    """What an agent may rely on, skipping empty slots.

    Only what this conversation verified (checked against the signed ``verification``
    slot, never a plain one): ``verified_customer_id`` and ``verified_records``. An order or
    invoice number it did not verify goes as ``unverified_order_number`` /
    ``unverified_invoice_number``, so no agent is invited to disclose it: a conversation
    verified for customer 42 on SO-100123 that then asked about someone else's SO-100124
    hands over ``{"verified_customer_id": 42, "verified_records": ["SO-100123"],
    "unverified_order_number": "SO-100124"}``.
    """
    proof = verification(tracker)
    values: dict[str, Any] = {}
    if proof is not None:
        values["verified_customer_id"] = proof.customer_id
        values["verified_records"] = sorted(proof.records)
    verified = proof.records if proof is not None else frozenset()
    for name, parse in RECORD_SLOTS:
        text = first_text(tracker.get_slot(name)).strip()
        if not text:
            continue
        try:
            number = parse(text)
        except InvalidIdentifier:
            number = text[:MAX_UNPARSED_CHARS]
        values[name if number in verified else f"unverified_{name}"] = number
    for name in CONTEXT_SLOTS:
        value = tracker.get_slot(name)
        if value not in (None, ""):
            values[name] = value
    return values


def intent_confidence(tracker: Tracker) -> tuple[str, float | None]:
    """The latest message's intent and its confidence (None for a button, which has none)."""
    intent = tracker.latest_message.get("intent") or {}
    confidence = intent.get("confidence")
    return str(intent.get("name") or "unknown"), (
        round(float(confidence), 3) if isinstance(confidence, int | float) else None
    )


def user_turn(tracker: Tracker) -> int:
    """How many user messages the current session has had, this one included."""
    turns = 0
    for event in tracker.events:
        if event.get("event") == "session_started":
            turns = 0
        elif event.get("event") == "user":
            turns += 1
    return turns


def fallback_turn(
    dispatcher: CollectingDispatcher, tracker: Tracker, *, response: str
) -> list[dict[str, Any]]:
    """Answer a turn the bot could not answer: ``response`` the first time, a handoff the
    second time in a row. Returns the slot events that keep the count (and counts it in the
    metrics as ``response`` without ``utter_``)."""
    fallback(response.removeprefix("utter_"))
    turn = user_turn(tracker)
    last = tracker.get_slot(LAST_FALLBACK_SLOT)
    if isinstance(last, int | float) and int(last) == turn - 1:
        intent, confidence = intent_confidence(tracker)
        shown = "no score" if confidence is None else f"{confidence:.2f}"
        detail = f"2 turns in a row the bot could not answer (last: {intent} {shown})"
        dispatcher.utter_message(
            text=say("handoff.after_fallback"),
            json_message=handoff_message(
                REPEATED_FALLBACK, confidence, detail, handoff_slots(tracker)
            ),
        )
        return [SlotSet(LAST_FALLBACK_SLOT, None)]
    dispatcher.utter_message(response=response)
    return [SlotSet(LAST_FALLBACK_SLOT, turn)]


class ActionHandoff(Action):
    """The user asked for a person: request the handoff with the intent's confidence."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        intent, confidence = intent_confidence(tracker)
        text = str(tracker.latest_message.get("text") or "").strip()
        detail = f"asked for a person: {text[:80]!r}" if text else "asked for a person"
        dispatcher.utter_message(
            text=say("handoff.requested"),
            json_message=handoff_message(USER_REQUEST, confidence, detail, handoff_slots(tracker)),
        )
        return [*question_reset_events(), SlotSet(LAST_FALLBACK_SLOT, None)]


class ActionDefaultFallback(Action):
    """Rasa's core fallback, counted: "Sorry, I didn't get that", then a handoff.

    Like Rasa's own, it forgets the message it could not handle, so the dialogue goes on as
    if it had not been said; the count is set after that, so it is kept.
    """

    def name(self) -> str:
        return "action_default_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        return [
            UserUtteranceReverted(),
            *fallback_turn(dispatcher, tracker, response="utter_default"),
        ]


class ActionOutOfScope(Action):
    """ "That's outside what I can help with", counted: twice in a row, a person takes over."""

    def name(self) -> str:
        return "action_out_of_scope"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        return fallback_turn(dispatcher, tracker, response="utter_out_of_scope")
