"""Changing an order's delivery address: verified like an order question, then the new
address (street with town, postcode, country), a summary and an explicit yes.

The postcode is checked in its country's format; where only one of the countries the
company delivers to writes postcodes that way (M1 4BT: the United Kingdom), the country is
not asked. A correction at any point ("no, the postcode is M1 3HE", "actually it's 9 Mill
Lane, Leeds") updates that part and shows the summary again; "no, the other address" asks
for the address again; a plain "no" or "stop" changes nothing. The yes changes the order
through erp/writes.py once per confirmation key, like a cancellation (actions/cancel.py).
"""

from __future__ import annotations

import re
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
    pending_key,
)
from actions.erp_calls import erp_call, erp_write
from actions.orders import ORDER
from actions.record_forms import AskRecordIdentity
from actions.verification import first_text, renewal_events, verification
from erp import orders, writes
from erp.access import CustomerKey
from erp.addresses import (
    COUNTRIES,
    MIN_STREET_CHARS,
    Address,
    normalise_postcode_for,
    normalise_street,
    parse_country,
)
from erp.errors import InvalidIdentifier
from erp.ids import postcode_in_text
from erp.schema import current_spec
from erp.writes import READDRESSABLE, WriteOutcome
from models.erp_facts import status_words

STREET, POSTCODE, COUNTRY, CONFIRM = (
    "new_street",
    "new_postcode",
    "new_country",
    "address_confirmed",
)
ADDRESS_SLOTS = (STREET, POSTCODE, COUNTRY)
# A "no" that is only a no: anything more ("no, the other address") asks for the address again.
_PLAIN_NO = re.compile(
    r"^\s*(/deny|no+|nope|nah|no thanks?( you)?|no,? keep it( as it is)?|keep it)[\s.!]*$",
    re.IGNORECASE,
)


def postcode_country(postcode: str, delivers_to: tuple[str, ...]) -> list[str]:
    """The countries the company delivers to whose postcodes look like this one."""
    return [code for code in delivers_to if COUNTRIES[code].normalise(postcode) is not None]


def describe_readdress(outcome: WriteOutcome) -> str:
    if outcome.done:
        return f"Done: order {outcome.record} will be delivered to {outcome.detail}."
    return cannot_readdress(outcome.record, outcome.status)


def cannot_readdress(number: str, status: str) -> str:
    return (
        f"Order {number} is {status_words(status)}, so its delivery address can't change any "
        "more. A colleague may still be able to help: just ask for one."
    )


class ValidateChangeAddressForm(ConfirmedChangeForm):
    """The order number, an identity factor, the new address, then yes or no."""

    write = "change_address"
    verb = "change the delivery address of"
    confirm_slot = CONFIRM

    def name(self) -> str:
        return "validate_change_address_form"

    def detail_slots(self) -> list[str]:
        many = len(current_spec().delivers_to) > 1
        return [STREET, POSTCODE, COUNTRY] if many else [STREET, POSTCODE]

    async def refusal(self, number: str, customer_id: CustomerKey) -> str | None:
        status = await erp_call(orders.get_order_status, number, customer_id=customer_id)
        if status.status in READDRESSABLE:
            return None
        return cannot_readdress(status.order_number, status.status)

    async def validate_new_street(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        try:
            street = normalise_street(first_text(value))
        except InvalidIdentifier as error:
            dispatcher.utter_message(text=f"Sorry, {error}.")
            return {STREET: None}
        # "12 High Street, Manchester M1 4BT": the postcode at the end is taken as well.
        found = postcode_in_text(street)
        if found is not None and len(street[: found[0]].rstrip(" ,")) >= MIN_STREET_CHARS:
            tail = street[found[0] :].strip(" ,.")
            if tail.upper().replace(" ", "") == found[1].upper().replace(" ", ""):
                countries = postcode_country(
                    found[1].upper().replace(" ", ""), current_spec().delivers_to
                )
                if len(countries) == 1:
                    return {
                        STREET: street[: found[0]].rstrip(" ,"),
                        POSTCODE: normalise_postcode_for(found[1], countries[0]),
                        COUNTRY: countries[0],
                        CONFIRM: None,
                    }
        return {STREET: street, CONFIRM: None}  # a changed address is confirmed again

    async def validate_new_postcode(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        delivers_to = current_spec().delivers_to
        typed = first_text(value)
        country = first_text(tracker.get_slot(COUNTRY))
        if country in delivers_to:
            candidates = [country]
        else:
            candidates = postcode_country(typed.upper().replace(" ", ""), delivers_to) or list(
                delivers_to
            )
        try:
            postcode = normalise_postcode_for(typed, candidates[0])
        except InvalidIdentifier as error:
            dispatcher.utter_message(text=f"Sorry, {error}.")
            return {POSTCODE: None}
        inferred = {COUNTRY: candidates[0]} if len(candidates) == 1 else {}
        return {POSTCODE: postcode, **inferred, CONFIRM: None}

    async def validate_new_country(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        delivers_to = current_spec().delivers_to
        text = first_text(value)
        try:
            country = text if text in delivers_to else parse_country(text, delivers_to)
        except InvalidIdentifier as error:
            dispatcher.utter_message(text=f"Sorry, {error}.")
            return {COUNTRY: None}
        postcode = first_text(tracker.get_slot(POSTCODE))
        if postcode and COUNTRIES[country].normalise(postcode) is None:
            known = COUNTRIES[country]
            dispatcher.utter_message(
                text=f"Postcodes in {known.name} look like {known.example}: what is the postcode?"
            )
            return {COUNTRY: country, POSTCODE: None, CONFIRM: None}
        return {COUNTRY: country, CONFIRM: None}

    async def validate_address_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value in (YES, REFUSED):
            return {CONFIRM: value}
        if value != NO:
            return {CONFIRM: None}
        if any(slot in tracker.slots_to_validate() for slot in ADDRESS_SLOTS):
            return {CONFIRM: None}  # "no, the postcode is ...": corrected, confirm again
        if _PLAIN_NO.match(str(tracker.latest_message.get("text") or "")):
            return {CONFIRM: NO}
        # "No, the other address": ask for it again.
        return {CONFIRM: None, STREET: None, POSTCODE: None, COUNTRY: None}


class ActionAskNewCountry(Action):
    """Asks which country, naming those the company delivers to."""

    def name(self) -> str:
        return "action_ask_new_country"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        names = [COUNTRIES[code].name for code in current_spec().delivers_to]
        listed = ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
        dispatcher.utter_message(text=f"Which country is that in? We deliver to {listed}.")
        return []


class ActionAskChangeAddressIdentity(AskRecordIdentity):
    kind = ORDER

    def name(self) -> str:
        return "action_ask_change_address_form_identity"


def typed_address(tracker: Tracker) -> Address | None:
    """The new address in the form's slots, when all of it is there."""
    street, postcode = first_text(tracker.get_slot(STREET)), first_text(tracker.get_slot(POSTCODE))
    country = first_text(tracker.get_slot(COUNTRY))
    delivers_to = current_spec().delivers_to
    if not country and len(delivers_to) == 1:
        country = delivers_to[0]
    if not (street and postcode and country in delivers_to):
        return None
    return Address(street, postcode, country)


class ActionAskAddressConfirmed(Action):
    """Shows the order's new address and asks yes or no, with a new confirmation key."""

    def name(self) -> str:
        return "action_ask_address_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        number = ORDER.number(tracker)
        address = typed_address(tracker)
        if number is None or address is None:
            return []
        dispatcher.utter_message(
            text=f"Please confirm: deliver order {number} to {address}?",
            buttons=[
                {"title": "Yes, change it", "payload": "/affirm"},
                {"title": "No", "payload": "/deny"},
            ],
        )
        return [new_key(number)]


class ActionChangeAddress(AnswerAction):
    """Changes the delivery address on a "yes" to the summary just shown."""

    staff_area = "orders"

    def name(self) -> str:
        return "action_change_address"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        answer = tracker.get_slot(CONFIRM)
        number = ORDER.number(tracker)
        proof = verification(tracker)
        if answer == REFUSED or number is None or proof is None:
            return []
        if answer != YES:
            dispatcher.utter_message(
                text=f"OK, I haven't changed anything: order {number} goes where it was going."
            )
            return renewal_events(tracker, proof)
        key = pending_key(tracker, number)
        address = typed_address(tracker)
        if key is None or address is None:
            dispatcher.utter_message(
                text="Sorry, I lost track of what you confirmed, so I changed nothing. "
                "Please ask me again to change the address."
            )
            return []
        outcome = await erp_write(
            writes.change_address,
            number,
            address,
            customer_id=proof.customer_id,
            key=key,
            actor=asker_of(tracker).actor,
        )
        dispatcher.utter_message(text=describe_outcome(outcome))
        return [SlotSet(LAST_WRITE_SLOT, key), *renewal_events(tracker, proof, number)]
