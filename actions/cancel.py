"""Cancelling an order while nothing has been picked (pending or confirmed): verified like
an order question, then a summary and an explicit yes (actions/changes.py), in the
conversation's language (i18n/messages/cancel.yml)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import AnswerAction, asker_of
from actions.changes import (
    LAST_WRITE_SLOT,
    NO,
    REFUSED,
    YES,
    ConfirmedChangeForm,
    describe_outcome,
    new_key,
    order_status,
    pending_key,
)
from actions.erp_calls import asking_for, erp_call, erp_write
from actions.orders import ORDER
from actions.record_forms import AskRecordIdentity
from actions.verification import renewal_events, verification
from erp import orders, writes
from erp.access import CustomerKey
from erp.errors import AccessDenied, RecordNotFound
from erp.writes import CANCELLABLE, WriteOutcome
from i18n.formatting import count, day, money
from i18n.texts import current_language, say

CONFIRM_SLOT = "cancel_confirmed"


def describe_cancel(outcome: WriteOutcome) -> str:
    if outcome.done:
        return say("cancel.done", number=outcome.record)
    return cannot_cancel(outcome.record, outcome.status)


def cannot_cancel(number: str, status: str) -> str:
    if status == "cancelled":
        return say("cancel.already", number=number)
    return say("cancel.too_late", number=number, status=order_status(status))


class ValidateCancelOrderForm(ConfirmedChangeForm):
    """The order number, an identity factor of its customer, then yes or no."""

    write = "cancel_order"
    verb = "cancel"
    confirm_slot = CONFIRM_SLOT

    def name(self) -> str:
        return "validate_cancel_order_form"

    async def refusal(self, number: str, customer_id: CustomerKey) -> str | None:
        status = await erp_call(orders.get_order_status, number, customer_id=customer_id)
        if status.status in CANCELLABLE:
            return None
        return cannot_cancel(status.order_number, status.status)

    async def validate_cancel_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {CONFIRM_SLOT: value if value in (YES, NO, REFUSED) else None}


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
        language = current_language()
        facts = [
            say("cancel.placed", day=day(status.order_date, language)),
            count(status.line_count, "line", language, measure=" 项商品"),
        ]
        if status.total is not None:
            facts.append(money(status.total, status.currency, language))
        listed = ("，" if language == "zh" else ", ").join(facts)
        dispatcher.utter_message(
            text=say("cancel.confirm", number=status.order_number, facts=listed),
            buttons=[
                {"title": say("cancel.yes"), "payload": "/affirm"},
                {"title": say("cancel.no"), "payload": "/deny"},
            ],
        )
        return [new_key(status.order_number)]


class ActionCancelOrder(AnswerAction):
    """Cancels the order on a "yes" to the summary just shown; a "no" changes nothing."""

    staff_area = "orders"

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
            dispatcher.utter_message(text=say("cancel.kept", number=number))
            return renewal_events(tracker, proof)
        key = pending_key(tracker, number)
        if key is None:
            dispatcher.utter_message(text=say("cancel.lost"))
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
