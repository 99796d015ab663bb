"""The shape shared by the order and invoice forms: a record number, then proof of identity."""

from __future__ import annotations

from abc import ABC
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import PrivateFormValidationAction
from actions.erp_calls import erp_call
from actions.verification import (
    VERIFIED,
    attempts_exhausted,
    checked_guess,
    factor_of,
    first_text,
    is_staff,
    refused_while_locked,
    typed_identity,
    verification,
    verified_customer,
    verified_slot,
)
from erp.access import STAFF
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

    def lockout_key(self, number: str) -> str:
        """The key failed guesses at this record are counted under: ``order:SO-100123``."""
        return f"{self.label}:{number}"


class RecordVerificationForm(PrivateFormValidationAction, ABC):
    """Asks for a record's number, then for the email or postcode of the customer on it.

    A conversation already verified for the record's owner is not asked again; verified for
    anyone else, it is. A wrong identity and an unknown number get the same neutral reply,
    and count towards the record's and the client's lockout; while either is locked,
    nothing is checked. Staff (marked by the gateway) are not asked: the record's owner
    becomes the customer.
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
        """Normalise the typed number, or say what is wrong with it and ask again.

        A number of the verified customer joins the verified records; for any other, a
        locked-out record or client is told so before an identity is asked for.
        """
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
            return {
                self.kind.slot: number,
                **verified_slot(tracker, owner, factors={STAFF}, records={number}),
            }
        proof = verification(tracker)
        if proof is not None:
            if number in proof.records:
                return {self.kind.slot: number}
            if await erp_call(self.kind.owner, number) == proof.customer_id:
                return {
                    self.kind.slot: number,
                    **verified_slot(tracker, proof.customer_id, records={number}),
                }
        if attempts_exhausted(tracker):
            return {self.kind.slot: number}  # the question already ended this turn (a lockout)
        locked = await refused_while_locked(
            dispatcher, tracker, record=self.kind.lockout_key(number), subject=self.kind.label
        )
        return {self.kind.slot: number, **(locked or {})}

    async def validate_identity(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        number = self.kind.number(tracker)
        if number is None or attempts_exhausted(tracker):
            return {"identity": None}  # no number yet, or the question just ended (a lockout)
        proof = verification(tracker)
        if proof is not None and number in proof.records:
            return {"identity": VERIFIED}
        identity = typed_identity(value, tracker)

        async def check() -> int | None:
            return await erp_call(self.kind.customer_if_identity_matches, number, identity=identity)

        customer_id, slots = await checked_guess(
            dispatcher,
            tracker,
            record=self.kind.lockout_key(number),
            subject=self.kind.label,
            check=check,
        )
        if customer_id is None:
            return {"identity": None, **slots}
        return {
            "identity": VERIFIED,
            **verified_slot(tracker, customer_id, factors={factor_of(identity)}, records={number}),
        }
