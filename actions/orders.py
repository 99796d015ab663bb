"""Orders and deliveries: the order form's validation and the order-status answer."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.answering import answering_service
from actions.base import AnswerAction
from actions.erp_calls import erp_call
from actions.record_forms import (
    AskRecordIdentity,
    AskRecordNumber,
    RecordKind,
    RecordVerificationForm,
)
from actions.verification import renewal_events, verification
from erp import orders
from i18n.texts import current_language
from models.erp_facts import describe_order, order_context, status_words

ORDER = RecordKind(
    slot="order_number", label="order", parse=orders.parse_order, owner=orders.order_owner
)


class ActionAskOrderNumber(AskRecordNumber):
    id_kind = "order"
    text = "ask.order_number"
    plain = "ask.order_number_plain"

    def name(self) -> str:
        return "action_ask_order_number"


class ActionAskOrderIdentity(AskRecordIdentity):
    kind = ORDER

    def name(self) -> str:
        return "action_ask_order_form_identity"


class ValidateOrderForm(RecordVerificationForm):
    """Asks for the order number, then for an identity factor of its customer."""

    staff_area = "orders"

    kind = ORDER

    def name(self) -> str:
        return "validate_order_form"

    async def extract_order_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await self.extract_record_number(tracker)

    async def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await self.validate_record_number(value, dispatcher, tracker)


class ActionOrderStatus(AnswerAction):
    """Status, dates, and for shipped orders the carrier, tracking number and delivery date."""

    staff_area = "orders"

    def name(self) -> str:
        return "action_order_status"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        order_number = ORDER.number(tracker)
        proof = verification(tracker)
        if order_number is None or proof is None:
            return []  # the form already said why (failed verification, a group, an error)
        status = await erp_call(
            orders.get_order_status, order_number=order_number, customer_id=proof.customer_id
        )
        required = [status.order_number, status_words(status.status)]
        if status.shipment is not None:
            required.append(status.shipment.tracking_number)
        reply = await answering_service().erp_answer(
            f"Where is my order {status.order_number}?",
            order_context(status),
            required,
            describe_order(status, current_language()),
        )
        dispatcher.utter_message(text=reply.text)
        return renewal_events(tracker, proof, status.order_number)
