"""Invoices: one invoice's status, and the unpaid invoices of a verified customer."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.answering import answering_service
from actions.base import AnswerAction, PrivateFormValidationAction
from actions.erp_calls import erp_call, today
from actions.record_forms import RecordKind, RecordVerificationForm
from actions.verification import (
    VERIFIED,
    attempts_exhausted,
    checked_guess,
    first_text,
    is_staff,
    renewal_events,
    typed_identity,
    verification,
    verified_slot,
)
from erp import customers, invoices
from erp.access import EMAIL, POSTCODE, STAFF, Verification
from erp.errors import InvalidIdentifier
from erp.ids import normalise_email, normalise_postcode, parse_invoice_number
from models.erp_facts import amount, describe_invoice, describe_unpaid, invoice_context

INVOICE = RecordKind(
    slot="invoice_number",
    label="invoice",
    parse=parse_invoice_number,
    owner=invoices.invoice_owner,
    customer_if_identity_matches=invoices.invoice_customer_if_identity_matches,
)


class ValidateInvoiceForm(RecordVerificationForm):
    """Asks for the invoice number, then for the email or postcode of its customer."""

    kind = INVOICE

    def name(self) -> str:
        return "validate_invoice_form"

    async def validate_invoice_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await self.validate_record_number(value, dispatcher, tracker)


class ValidateUnpaidInvoicesForm(PrivateFormValidationAction):
    """Identifies the customer by email and verifies with the postcode: both must match.

    A conversation that proved one of them (on an order or an invoice) is asked for the
    other, which must be the same customer's. Staff (marked by the gateway) give the
    customer's email only.
    """

    def name(self) -> str:
        return "validate_unpaid_invoices_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if is_staff(tracker):
            return ["email"]  # staff may look up any customer: always ask which one
        if attempts_exhausted(tracker):
            return []
        proof = verification(tracker)
        if proof is None:
            return domain_slots
        if proof.has(EMAIL, POSTCODE):
            return []
        return ["postcode"] if proof.has(EMAIL) else ["email"]

    async def validate_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        try:
            email = normalise_email(typed_identity(value, tracker))
        except InvalidIdentifier as error:
            dispatcher.utter_message(text=f"Sorry, {error}.")
            return {"email": None}
        if is_staff(tracker):
            customer_id = await erp_call(customers.customer_id_for_email, email)
            if customer_id is None:
                dispatcher.utter_message(text=f"No customer has the email address {email}.")
                return {"email": None}
            return {"email": email, **verified_slot(tracker, customer_id, factors={STAFF})}
        proof = verification(tracker)
        if proof is None or proof.has(EMAIL):
            return {"email": email}  # checked together with the postcode
        return await self._second_factor(dispatcher, tracker, proof, EMAIL, email)

    async def validate_postcode(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        try:
            postcode = normalise_postcode(typed_identity(value, tracker))
        except InvalidIdentifier as error:
            dispatcher.utter_message(text=f"Sorry, {error}.")
            return {"postcode": None}
        proof = verification(tracker)
        if proof is not None and not proof.has(POSTCODE):
            return await self._second_factor(dispatcher, tracker, proof, POSTCODE, postcode)
        try:
            email = normalise_email(first_text(tracker.get_slot("email")))
        except InvalidIdentifier:
            return {"email": None, "postcode": None}  # asked for again, then checked together
        if attempts_exhausted(tracker):
            return {"postcode": None}

        async def check() -> int | None:
            return await erp_call(customers.verify_customer, email=email, postcode=postcode)

        customer_id, slots = await checked_guess(
            dispatcher, tracker, record=f"email:{email}", subject="account", check=check
        )
        if customer_id is None:
            return {"email": None, "postcode": None, **slots}
        return {
            "postcode": VERIFIED,
            **verified_slot(tracker, customer_id, factors={EMAIL, POSTCODE}),
        }

    async def _second_factor(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        proof: Verification,
        factor: str,
        typed: str,
    ) -> dict[str, Any]:
        """Check the factor (email or postcode, also its slot's name) not proven yet.

        It must be the verified customer's; right, the verification gains it.
        """
        if attempts_exhausted(tracker):
            return {factor: None}

        async def check() -> int | None:
            matches = await erp_call(customers.customer_has, proof.customer_id, **{factor: typed})
            return proof.customer_id if matches else None

        customer_id, slots = await checked_guess(
            dispatcher,
            tracker,
            record=f"customer:{proof.customer_id}",
            subject="account",
            check=check,
        )
        if customer_id is None:
            return {factor: None, **slots}
        return {factor: VERIFIED, **verified_slot(tracker, customer_id, factors={factor})}


class ActionInvoiceStatus(AnswerAction):
    """Status, total, amount still due, due date and days overdue of one invoice."""

    def name(self) -> str:
        return "action_invoice_status"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        invoice_number = INVOICE.number(tracker)
        proof = verification(tracker)
        if invoice_number is None or proof is None:
            return []  # the form already said why (failed verification, a group, an error)
        status = await erp_call(
            invoices.get_invoice_status,
            invoice_number=invoice_number,
            customer_id=proof.customer_id,
            today=today(),
        )
        reply = await answering_service().erp_answer(
            f"Is invoice {status.invoice_number} paid?",
            invoice_context(status),
            [status.invoice_number, amount(status.amount_due, status.currency)],
            describe_invoice(status),
        )
        dispatcher.utter_message(text=reply.text)
        return renewal_events(tracker, proof, status.invoice_number)


class ActionListUnpaidInvoices(AnswerAction):
    """The verified customer's open, overdue and partly paid invoices, oldest due first.

    Only for a conversation that proved both email and postcode (or a staff lookup).
    """

    def name(self) -> str:
        return "action_list_unpaid_invoices"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        proof = verification(tracker)
        if proof is None or not proof.has(EMAIL, POSTCODE):
            return []  # the form already said why (failed verification, a group, an error)
        unpaid = await erp_call(
            invoices.list_unpaid_invoices, customer_id=proof.customer_id, today=today()
        )
        dispatcher.utter_message(text=describe_unpaid(unpaid))
        return renewal_events(tracker, proof)
