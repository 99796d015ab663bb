"""Orders and deliveries: the order form's validation and the order-status answer."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import AnswerAction, ErpFormValidationAction
from actions.erp_calls import erp_call
from actions.formatting import ORDER_STATUS_TEXT, day, money
from actions.verification import (
    VERIFIED,
    attempts_exhausted,
    failed_attempt,
    first_text,
    verified_customer,
)
from erp import orders
from erp.errors import InvalidIdentifier
from erp.ids import find_identity, parse_order_number


def _order_number(tracker: Tracker) -> str | None:
    try:
        return parse_order_number(first_text(tracker.get_slot("order_number")))
    except InvalidIdentifier:
        return None


class ValidateOrderForm(ErpFormValidationAction):
    """Asks for the order number, then for the email or postcode of its customer."""

    def name(self) -> str:
        return "validate_order_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if attempts_exhausted(tracker):
            return []
        order_number = _order_number(tracker)
        customer_id = verified_customer(tracker)
        if order_number and customer_id is not None:
            owned = await erp_call(
                orders.order_belongs_to, order_number=order_number, customer_id=customer_id
            )
            if owned:
                return ["order_number"]
        return domain_slots

    async def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        try:
            return {"order_number": parse_order_number(first_text(value))}
        except InvalidIdentifier as error:
            dispatcher.utter_message(text=f"Sorry, {error}.")
            return {"order_number": None}

    async def validate_identity(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        order_number = _order_number(tracker)
        if order_number is None:
            return {"identity": None}
        customer_id = await erp_call(
            orders.order_customer_if_identity_matches,
            order_number=order_number,
            identity=find_identity(first_text(value)),
        )
        if customer_id is None:
            return {"identity": None, **failed_attempt(dispatcher, tracker)}
        return {"identity": VERIFIED, "verified_customer_id": customer_id}


class ActionOrderStatus(AnswerAction):
    """Status, dates, and for shipped orders the carrier, tracking number and delivery date."""

    def name(self) -> str:
        return "action_order_status"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        order_number = _order_number(tracker)
        customer_id = verified_customer(tracker)
        if order_number is None or customer_id is None:
            return []  # the form already said why (failed verification or an error)
        status = await erp_call(
            orders.get_order_status, order_number=order_number, customer_id=customer_id
        )
        dispatcher.utter_message(text=describe_order(status))
        return []


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
