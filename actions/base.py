"""Base classes: every answer and form validation goes through replies.guarded."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.erp_calls import Asker, asking_for
from actions.replies import guarded
from actions.staff import staff_refusal
from actions.verification import (
    client_key,
    first_text,
    form_ended_events,
    group_refusal,
    is_group,
    is_staff,
    latest_metadata,
    question_reset_events,
    verified_customer,
)
from erp.errors import InvalidIdentifier
from erp.invoices import parse_invoice
from erp.orders import parse_order

# The slots naming what a question is about, with the parser of each (the ERP's format).
_RECORD_SLOTS = (("order_number", parse_order), ("invoice_number", parse_invoice))


def asker_of(tracker: Tracker) -> Asker:
    """Who an action's ERP calls are made for, for the audit trail: the conversation, its
    channel, staff (with their id) or a customer, the verified customer, and the order or
    invoice the question is about. Nothing the customer typed as an identity."""
    customer = verified_customer(tracker)
    record = ""
    for slot, parse in _RECORD_SLOTS:
        try:
            record = parse(first_text(tracker.get_slot(slot)))
            break
        except InvalidIdentifier:
            continue
    return Asker(
        conversation=tracker.sender_id,
        channel=str(latest_metadata(tracker).get("channel") or "rest"),
        actor=f"staff:{client_key(tracker)}" if is_staff(tracker) else "customer",
        customer="" if customer is None else str(customer),
        record=record,
    )


class AnswerAction(Action, ABC):
    """An action that answers the user's question, then forgets the question's slots.

    ``staff_area`` names the records it reads (`actions.staff.AREAS`): a staff member whose
    roles do not cover them is told which role would, and nothing is read.
    """

    staff_area: ClassVar[str | None] = None

    @abstractmethod
    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Send the answer; return extra events."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        async def work() -> list[dict[str, Any]]:
            return await self.answer(dispatcher, tracker, domain)

        refused = staff_refusal(tracker, self.staff_area) if self.staff_area else None
        if refused is not None:
            dispatcher.utter_message(text=refused)
            return question_reset_events()
        with asking_for(asker_of(tracker)):
            events = await guarded(dispatcher, work, on_error=[])
        return [*events, *question_reset_events()]


class ErpFormValidationAction(FormValidationAction, ABC):
    """A form validation whose errors become a reply and end the form instead of crashing."""

    @abstractmethod
    def name(self) -> str:
        """The validation action's name: validate_<form>."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        async def work() -> list[dict[str, Any]]:
            return await super(ErpFormValidationAction, self).run(dispatcher, tracker, domain)

        ended = form_ended_events()
        with asking_for(asker_of(tracker)):
            return await guarded(dispatcher, work, on_error=ended)


class PrivateFormValidationAction(ErpFormValidationAction, ABC):
    """A form about one customer's orders or invoices: refused where several people read.

    In a group chat (the gateway's ``group`` metadata) the form says once why and where to
    ask instead, and ends before any number or identity is looked at; so does it for a staff
    member whose roles do not cover ``staff_area`` (`actions.staff.AREAS`), naming the role.
    """

    staff_area: ClassVar[str]

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        refused = group_refusal(tracker) if is_group(tracker) else None
        refused = refused or staff_refusal(tracker, self.staff_area)
        if refused is not None:
            dispatcher.utter_message(text=refused)
            return form_ended_events()
        return await super().run(dispatcher, tracker, domain)
