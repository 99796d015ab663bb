"""What every change a customer confirms has in common (cancel, new address, return).

A change form asks for the order number and an identity factor of its customer (as the
order form does), checks the order may still have this change (else says why and ends),
asks what the change needs, then shows a summary with Yes / No buttons. Each summary draws a
new confirmation key (kept in ``write_key`` with its order number); the yes makes the change
through erp/writes.py with that key, so the same confirmation delivered twice changes the
ERP once and gets the same answer (``action_repeat_write``). A different order number typed
at any point starts over for that order. An ERP whose mapping does not declare the change
hands the request to a colleague. What the customer reads is in the conversation's language
(i18n/messages/changes.yml and each change's own file); what a colleague gets stays English.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import asker_of
from actions.erp_calls import asking_for, erp_write
from actions.handoff import handoff_slots
from actions.orders import ORDER
from actions.record_forms import RecordVerificationForm
from actions.replies import guarded
from actions.verification import (
    VERIFIED,
    first_text,
    form_ended_events,
    is_staff,
    latest_metadata,
    proof_after,
    verification,
)
from contracts.handoff import WRITE_NOT_SUPPORTED, handoff_message
from contracts.metadata import may_write
from erp import writes
from erp.access import CustomerKey
from erp.schema import current_spec
from erp.writes import WriteOutcome
from i18n.texts import messages, say
from models.erp_facts import status_words

KEY_SLOT = "write_key"
LAST_WRITE_SLOT = "last_write"
YES, NO, REFUSED = "yes", "no", "refused"


def order_status(status: str) -> str:
    """An order's status completing "Order SO-100123 is ..." in this turn's language."""
    key = f"change.status.{status}"
    if key in messages():
        return say(key)
    return say("change.status.other", status=status_words(status))


def not_here(
    dispatcher: CollectingDispatcher, tracker: Tracker, verb: str, write: str
) -> list[dict[str, Any]]:
    """An ERP whose mapping declares no such change (``write``): a colleague gets the
    request, with the order number and what the conversation verified (in English:
    ``verb``); the form ends."""
    number = ORDER.number(tracker)
    what = f"order {number}" if number else "an order"
    dispatcher.utter_message(
        text=say("change.not_here", verb=say(f"change.verb.{write}")),
        json_message=handoff_message(
            WRITE_NOT_SUPPORTED, None, f"asked to {verb} {what}", handoff_slots(tracker)
        ),
    )
    return form_ended_events()


def pending_key(tracker: Tracker, number: str) -> str | None:
    """The confirmation key drawn when the summary of ``number`` was shown, if it was."""
    order, _, key = first_text(tracker.get_slot(KEY_SLOT)).partition("|")
    return key if order == number and key else None


def new_key(number: str) -> SlotSet:
    """A fresh confirmation key for the summary of ``number`` about to be shown."""
    return SlotSet(KEY_SLOT, f"{number}|{secrets.token_urlsafe(24)}")


def describe_outcome(outcome: WriteOutcome) -> str:
    """The answer to a confirmed change; the same for every delivery of one confirmation."""
    from actions import address, cancel, returns  # each change words its own outcome

    describe = {
        "cancel_order": cancel.describe_cancel,
        "change_address": address.describe_readdress,
        "request_return": returns.describe_return,
    }[outcome.kind]
    return describe(outcome)


class ConfirmedChangeForm(RecordVerificationForm, ABC):
    """The order number, an identity factor, what the change needs, then yes or no."""

    staff_area = "orders"

    kind = ORDER
    # The write of erp/writes.py, as a mapping declares it; the customer reads the change as
    # the message change.verb.<write>.
    write: ClassVar[str]
    verb: ClassVar[str]  # "cancel": the change in English, for the colleague it goes to
    confirm_slot: ClassVar[str]

    def detail_slots(self) -> list[str]:
        """The slots the change needs between verification and the confirmation."""
        return []

    @abstractmethod
    async def refusal(self, number: str, customer_id: CustomerKey) -> str | None:
        """Why this order may not have the change (a sentence for the customer), or None."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if self.write not in current_spec().writes:
            return not_here(dispatcher, tracker, self.verb, self.write)
        if is_staff(tracker) and not may_write(latest_metadata(tracker)):
            verb = say(f"change.verb.{self.write}")
            dispatcher.utter_message(text=say("change.staff_read_only", verb=verb))
            return form_ended_events()
        return await super().run(dispatcher, tracker, domain)

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot(self.confirm_slot) == REFUSED:
            return []  # said why already
        slots = await super().required_slots(domain_slots, dispatcher, tracker, domain)
        if not slots:
            return []
        asked = [slot for slot in slots if slot in (ORDER.slot, "identity")]
        return [*asked, *self.detail_slots(), self.confirm_slot]

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
            return {**result, **await self._allowed(number, proof.customer_id, dispatcher)}
        # Another order: what was picked and confirmed was for the other one.
        return {**result, **{slot: None for slot in self.detail_slots()}, self.confirm_slot: None}

    async def validate_identity(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        result = await super().validate_identity(value, dispatcher, tracker, domain)
        number = ORDER.number(tracker)
        proof = proof_after(tracker, result)
        if result.get("identity") == VERIFIED and number and proof is not None:
            return {**result, **await self._allowed(number, proof.customer_id, dispatcher)}
        return result

    async def _allowed(
        self, number: str, customer_id: CustomerKey, dispatcher: CollectingDispatcher
    ) -> dict[str, Any]:
        why_not = await self.refusal(number, customer_id)
        if why_not is None:
            return {}
        dispatcher.utter_message(text=why_not)
        return {self.confirm_slot: REFUSED}


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
