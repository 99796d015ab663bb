"""The shape shared by the order and invoice forms: a record number, then proof of identity."""

from __future__ import annotations

from abc import ABC
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import ErpFormValidationAction
from actions.erp_calls import erp_call
from actions.verification import (
    VERIFIED,
    attempts_exhausted,
    failed_attempt,
    first_text,
    is_staff,
    typed_identity,
    verified_customer,
)
from erp.errors import InvalidIdentifier


@dataclass(frozen=True)
class RecordKind:
    """How to read, own-check and verify one kind of customer record (order, invoice)."""

    slot: str
    label: str
    parse: Callable[[str], str]
    owner: Callable[..., int | None]
    customer_if_identity_matches: Callable[..., int | None]

    def number(self, tracker: Tracker) -> str | None:
        """The record number in the tracker, normalised, or None when absent or malformed."""
        try:
            return self.parse(first_text(tracker.get_slot(self.slot)))
        except InvalidIdentifier:
            return None


class RecordVerificationForm(ErpFormValidationAction, ABC):
    """Asks for a record's number, then for the email or postcode of the customer on it.

    A conversation already verified for the record's owner is not asked again; verified for
    anyone else, it is. A wrong identity and an unknown number get the same neutral reply.
    Staff (marked by the gateway) are not asked: the record's owner becomes the customer.
    """

    kind: ClassVar[RecordKind]

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if is_staff(tracker):
            return [self.kind.slot]
        if attempts_exhausted(tracker):
            return []
        number = self.kind.number(tracker)
        customer_id = verified_customer(tracker)
        if number and customer_id is not None:
            owner = await erp_call(self.kind.owner, number)
            if owner == customer_id:
                return [self.kind.slot]
        return domain_slots

    async def validate_record_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        """Normalise the typed number, or say what is wrong with it and ask again."""
        try:
            number = self.kind.parse(first_text(value))
        except InvalidIdentifier as error:
            dispatcher.utter_message(text=f"Sorry, {error}.")
            return {self.kind.slot: None}
        if is_staff(tracker):
            owner = await erp_call(self.kind.owner, number)
            if owner is None:
                dispatcher.utter_message(text=f"There is no {self.kind.label} {number} in the ERP.")
                return {self.kind.slot: None}
            return {self.kind.slot: number, "verified_customer_id": owner}
        return {self.kind.slot: number}

    async def validate_identity(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        number = self.kind.number(tracker)
        if number is None:
            return {"identity": None}
        customer_id = await erp_call(
            self.kind.customer_if_identity_matches,
            number,
            identity=typed_identity(value, tracker),
        )
        if customer_id is None:
            return {"identity": None, **failed_attempt(dispatcher, tracker)}
        return {"identity": VERIFIED, "verified_customer_id": customer_id}
