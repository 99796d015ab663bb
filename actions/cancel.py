"""Cancelling an order: verified like an order question, then a summary and an explicit yes.

The form asks for the order number and an identity factor of its customer (as the order
form does), checks the order may still be cancelled (pending or confirmed: nothing picked
yet), then shows what will change with Yes / No buttons. Each time it asks, it draws a new
confirmation key; the "yes" cancels through erp/writes.py with that key, so the same
confirmation delivered twice changes the order once and gets the same answer. A "no" (or
"stop") changes nothing; a different order number typed at any point starts over for that
order. An ERP whose mapping declares no cancellation hands the request to a colleague.
"""

from __future__ import annotations

import secrets
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import AnswerAction, asker_of
from actions.erp_calls import asking_for, erp_call, erp_write
from actions.handoff import handoff_payload, handoff_slots
from actions.orders import ORDER
from actions.record_forms import AskRecordIdentity, RecordVerificationForm
from actions.replies import guarded
from actions.verification import (
    VERIFIED,
    first_text,
    proof_after,
    question_reset_events,
    renewal_events,
    verification,
)
from erp import orders, writes
from erp.access import CustomerKey
from erp.errors import AccessDenied, RecordNotFound
from erp.schema import current_spec
from erp.writes import CANCELLABLE, WriteOutcome
from models.erp_facts import day, money, plural, status_words

CONFIRM_SLOT = "cancel_confirmed"
KEY_SLOT = "write_key"
LAST_WRITE_SLOT = "last_write"
YES, NO, REFUSED = "yes", "no", "refused"
NOT_HERE = (
    "I can't {verb} orders here myself, so I'm passing your request to a colleague with the "
    "details. They'll get back to you."
)


def not_here(dispatcher: CollectingDispatcher, tracker: Tracker, verb: str) -> list[dict[str, Any]]:
    """An ERP whose mapping declares no such change: a colleague gets the request, with the
    order number and what the conversation verified; the form ends."""
    number = ORDER.number(tracker)
    what = f"order {number}" if number else "an order"
    dispatcher.utter_message(
        text=NOT_HERE.format(verb=verb),
        json_message=handoff_payload(
            "write_not_supported", None, f"asked to {verb} {what}", handoff_slots(tracker)
        ),
    )
    return [ActiveLoop(None), SlotSet("requested_slot", None), *question_reset_events()]


def pending_key(tracker: Tracker, number: str) -> str | None:
    """The confirmation key drawn when the summary of ``number`` was shown, if it was."""
    order, _, key = first_text(tracker.get_slot(KEY_SLOT)).partition("|")
    return key if order == number and key else None


def describe_outcome(outcome: WriteOutcome) -> str:
    """The answer to a confirmed change; the same for every delivery of one confirmation."""
    if outcome.kind == "change_address":
        if outcome.done:
            return f"Done: order {outcome.record} will be delivered to {outcome.detail}."
        return cannot_readdress(outcome.record, outcome.status)
    if outcome.done:
        return (
            f"Done: order {outcome.record} is cancelled. Nothing from it will be sent or charged."
        )
    return cannot_cancel(outcome.record, outcome.status)


def cannot_readdress(number: str, status: str) -> str:
    return (
        f"Order {number} is {status_words(status)}, so its delivery address can't change any "
        "more. A colleague may still be able to help: just ask for one."
    )


def cannot_cancel(number: str, status: str) -> str:
    if status == "cancelled":
        return f"Order {number} is already cancelled; nothing more to do."
    return (
        f"Order {number} is {status_words(status)}, so I can't cancel it any more. "
        "A colleague may still be able to help: just ask for one."
    )


class ValidateCancelOrderForm(RecordVerificationForm):
    """The order number, an identity factor of its customer, then yes or no."""

    kind = ORDER

    def name(self) -> str:
        return "validate_cancel_order_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if "cancel_order" not in current_spec().writes:
            return not_here(dispatcher, tracker, "cancel")
        return await super().run(dispatcher, tracker, domain)

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        slots = await super().required_slots(domain_slots, dispatcher, tracker, domain)
        if not slots or CONFIRM_SLOT in slots:
            return slots
        return [*slots, CONFIRM_SLOT]

    async def extract_order_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await self.extract_record_number(tracker)

    async def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        result = await self.validate_record_number(value, dispatcher, tracker)
        number = result.get(ORDER.slot)
        proof = proof_after(tracker, result)
        if number and proof is not None and number in proof.records:
            return {**result, **await self._cancellable(number, proof.customer_id, dispatcher)}
        # A different order: its confirmation (if any) was for the other one.
        return {**result, CONFIRM_SLOT: None}

    async def validate_identity(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        result = await super().validate_identity(value, dispatcher, tracker, domain)
        number = ORDER.number(tracker)
        proof = proof_after(tracker, result)
        if result.get("identity") == VERIFIED and number and proof is not None:
            return {**result, **await self._cancellable(number, proof.customer_id, dispatcher)}
        return result

    async def validate_cancel_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {CONFIRM_SLOT: value if value in (YES, NO, REFUSED) else None}

    async def _cancellable(
        self, number: str, customer_id: CustomerKey, dispatcher: CollectingDispatcher
    ) -> dict[str, Any]:
        """Nothing when the order may be cancelled; else say why not and end the form."""
        status = await erp_call(orders.get_order_status, number, customer_id=customer_id)
        if status.status in CANCELLABLE:
            return {}
        dispatcher.utter_message(text=cannot_cancel(status.order_number, status.status))
        return {CONFIRM_SLOT: REFUSED}


class ActionAskCancelIdentity(AskRecordIdentity):
    kind = ORDER

    def name(self) -> str:
        return "action_ask_cancel_order_form_identity"


class ActionAskCancelConfirmed(Action):
    """Shows what will change and asks yes or no, with a new confirmation key."""

    def name(self) -> str:
        return "action_ask_cancel_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        number = ORDER.number(tracker)
        proof = verification(tracker)
        if number is None or proof is None:
            return []
        with asking_for(asker_of(tracker)):
            try:
                status = await erp_call(
                    orders.get_order_status, number, customer_id=proof.customer_id
                )
            except (RecordNotFound, AccessDenied):
                return []
        facts = [f"placed {day(status.order_date)}", plural(status.line_count, "line")]
        if status.total is not None:
            facts.append(money(status.total, status.currency))
        dispatcher.utter_message(
            text=(
                f"Please confirm: cancel order {status.order_number} ({', '.join(facts)})? "
                "This can't be undone."
            ),
            buttons=[
                {"title": "Yes, cancel it", "payload": "/affirm"},
                {"title": "No, keep it", "payload": "/deny"},
            ],
        )
        key = secrets.token_urlsafe(24)
        return [SlotSet(KEY_SLOT, f"{status.order_number}|{key}")]


class ActionCancelOrder(AnswerAction):
    """Cancels the order on a "yes" to the summary just shown; a "no" changes nothing."""

    def name(self) -> str:
        return "action_cancel_order"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        answer = tracker.get_slot(CONFIRM_SLOT)
        number = ORDER.number(tracker)
        proof = verification(tracker)
        if answer == REFUSED or number is None or proof is None:
            return []  # the form already said why
        if answer != YES:
            dispatcher.utter_message(
                text=f"OK, I haven't changed anything: order {number} stays as it is."
            )
            return renewal_events(tracker, proof)
        key = pending_key(tracker, number)
        if key is None:
            dispatcher.utter_message(
                text="Sorry, I lost track of what you confirmed, so I changed nothing. "
                "Please ask me again to cancel it."
            )
            return []
        outcome = await erp_write(
            writes.cancel_order,
            number,
            customer_id=proof.customer_id,
            key=key,
            actor=asker_of(tracker).actor,  # the customer, or the staff member, as theirs
        )
        dispatcher.utter_message(text=describe_outcome(outcome))
        return [SlotSet(LAST_WRITE_SLOT, key), *renewal_events(tracker, proof, number)]


class ActionRepeatWrite(Action):
    """A "yes" that arrives again after the change was made (a double click, a resent
    message): the same answer, read from the change's record, and nothing changed."""

    def name(self) -> str:
        return "action_repeat_write"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        proof = verification(tracker)
        key = first_text(tracker.get_slot(LAST_WRITE_SLOT))

        async def work() -> list[dict[str, Any]]:
            outcome = None
            if proof is not None and key:
                outcome = await erp_write(
                    writes.recorded_outcome, key, customer_id=proof.customer_id
                )
            if outcome is None:
                dispatcher.utter_message(response="utter_anything_else")
            else:
                dispatcher.utter_message(text=describe_outcome(outcome))
            return []

        with asking_for(asker_of(tracker)):
            return await guarded(dispatcher, work, on_error=[])
