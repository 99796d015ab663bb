"""Orders and deliveries: the order form's validation and the order-status answer."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import AnswerAction
from actions.erp_calls import erp_call
from actions.formatting import ORDER_STATUS_TEXT, day, money
from actions.generation import worded
from actions.record_forms import RecordKind, RecordVerificationForm
from actions.verification import renewal_events, verification
from erp import orders
from erp.ids import parse_order_number
from models.erp_context import order_context, status_words

ORDER = RecordKind(
    slot="order_number",
    label="order",
    parse=parse_order_number,
    owner=orders.order_owner,
    customer_if_identity_matches=orders.order_customer_if_identity_matches,
)


class ValidateOrderForm(RecordVerificationForm):
    """Asks for the order number, then for the email or postcode of its customer."""

    kind = ORDER

    def name(self) -> str:
        return "validate_order_form"

    async def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await self.validate_record_number(value, dispatcher, tracker)


class ActionOrderStatus(AnswerAction):
    """Status, dates, and for shipped orders the carrier, tracking number and delivery date."""

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
        text = await worded(
            f"Where is my order {status.order_number}?",
            order_context(status),
            required,
            describe_order(status),
        )
        dispatcher.utter_message(text=text)
        return renewal_events(tracker, proof, status.order_number)


def describe_order(status: orders.OrderStatus) -> str:
    """One message with every fact of the order the customer needs."""
    text = (
        f"Order {status.order_number}, placed on {day(status.order_date)} "
        f"({money(status.total, status.currency)}), is {ORDER_STATUS_TEXT[status.status]}."
    )
    shipment = status.shipment
    if shipment is None:
        if status.status in ("pending", "confirmed", "picking", "on_hold"):
            text += " It hasn't shipped yet; I'll have tracking details once it has."
        return text
    if shipment.delivered_at is not None:
        return (
            f"{text} It was delivered on {day(shipment.delivered_at)} by {shipment.carrier} "
            f"(tracking number {shipment.tracking_number})."
        )
    return (
        f"{text} It shipped on {day(shipment.shipped_at)} with {shipment.carrier}, "
        f"tracking number {shipment.tracking_number}; estimated delivery "
        f"{day(shipment.estimated_delivery)}."
    )
