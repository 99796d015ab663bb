"""The shape shared by the order and invoice forms: a record number, then proof of identity."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.base import PrivateFormValidationAction
from actions.erp_calls import erp_call
from actions.replies import invalid_identifier
from actions.verification import (
    VERIFIED,
    attempts_exhausted,
    checked_guess,
    factor_words,
    first_text,
    is_staff,
    refused_while_locked,
    typed_identity,
    verification,
    verified_customer,
    verified_slot,
)
from erp.access import STAFF, CustomerKey
from erp.customers import matched_factor, typed_factors
from erp.errors import InvalidIdentifier, NotKept
from erp.schema import current_spec
from i18n.texts import say


@dataclass(frozen=True)
class RecordKind:
    """How to read, own-check and verify one kind of customer record (order, invoice).

    ``parse`` reads a number in this ERP's form (the mapping's); ``owner`` is the customer
    a number belongs to, None when there is no such record.
    """

    slot: str
    label: str
    parse: Callable[[str], str]
    owner: Callable[..., CustomerKey | None]

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
        spec = current_spec()
        if self.kind.label not in spec.concepts:  # this ERP keeps none: say so, end the form
            raise NotKept(self.kind.label, spec.missing.get(self.kind.label, ""))
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

    async def extract_record_number(self, tracker: Tracker) -> dict[str, Any]:
        """The record number in the message that started the form, in this ERP's format.

        The NLU knows the demo's numbers (SO-100123); another ERP's (Northwind's 10248) are
        found here, so "where is order 10248?" is not asked which order it is.
        """
        if tracker.get_slot(self.kind.slot) or tracker.get_slot("requested_slot"):
            return {}
        try:
            return {self.kind.slot: self.kind.parse(str(tracker.latest_message.get("text") or ""))}
        except InvalidIdentifier:
            return {}

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
            dispatcher.utter_message(text=invalid_identifier(error))
            return {self.kind.slot: None}
        if is_staff(tracker):
            owner = await erp_call(self.kind.owner, number)
            if owner is None:
                label = say(f"label.{self.kind.label}")
                dispatcher.utter_message(text=say("record.no_such", label=label, number=number))
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
        identity = typed_identity(value, tracker, without=number)
        spec = current_spec()
        if not typed_factors(identity, spec):
            # Nothing that could be an identity (or only the record number again): no guess.
            if tracker.get_slot("requested_slot") == "identity":
                hint = factor_words(spec.identity)
                dispatcher.utter_message(text=say("identity.not_like", hint=hint))
            return {"identity": None}
        proven: dict[str, str] = {}

        async def check() -> CustomerKey | None:
            match = await erp_call(verify_record_identity, self.kind.owner, number, identity)
            if match is None:
                return None
            proven["factor"] = match[1]
            return match[0]

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
            **verified_slot(tracker, customer_id, factors={proven["factor"]}, records={number}),
        }


def verify_record_identity(
    owner: Callable[..., CustomerKey | None], number: str, identity: str, *, session: Session
) -> tuple[CustomerKey, str] | None:
    """The record's customer and the factor of theirs ``identity`` is; None when there is no
    such record or the identity is not its customer's (the caller cannot tell which)."""
    customer = owner(number, session=session)
    factor = matched_factor(customer, typed_factors(identity, current_spec()), session=session)
    return None if customer is None or factor is None else (customer, factor)


class AskRecordNumber(Action, ABC):
    """Asks for a record's number, showing what this ERP's numbers look like."""

    id_kind: ClassVar[str]
    # Message keys (i18n/messages.yml): ``text`` with ``{example}``, one of the mapping's
    # example ids; ``plain`` where it gives none.
    text: ClassVar[str]
    plain: ClassVar[str]

    @abstractmethod
    def name(self) -> str:
        """action_ask_<slot> or action_ask_<form>_<slot>."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        id_format = current_spec().ids.get(self.id_kind)
        if id_format is None:
            dispatcher.utter_message(text=say(self.plain))
        else:
            dispatcher.utter_message(text=say(self.text, example=id_format.example))
        return []


class AskRecordIdentity(Action, ABC):
    """Asks for one of the identity factors of the record's customer (the mapping's)."""

    kind: ClassVar[RecordKind]

    @abstractmethod
    def name(self) -> str:
        """action_ask_<slot> or action_ask_<form>_<slot>."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        factors = factor_words(current_spec().identity, joiner="word.or_the")
        label = say(f"label.{self.kind.label}")
        dispatcher.utter_message(text=say("ask.identity", factors=factors, label=label))
        return []
