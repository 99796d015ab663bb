"""Invoices: one invoice's status, and the unpaid invoices of a verified customer."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.answering import answering_service
from actions.base import AnswerAction, PrivateFormValidationAction
from actions.erp_calls import erp_call, today
from actions.record_forms import (
    AskRecordIdentity,
    AskRecordNumber,
    RecordKind,
    RecordVerificationForm,
)
from actions.verification import (
    FACTOR_SLOTS,
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
from erp import customers, invoices, payments
from erp.access import STAFF, CustomerKey, Verification
from erp.customers import factor_value
from erp.errors import NotKept
from erp.mapping.spec import MappingSpec
from erp.schema import current_spec
from i18n.texts import current_language, say
from models.erp_facts import (
    amount,
    describe_invoice,
    describe_payments,
    describe_unpaid,
    invoice_context,
)

INVOICE = RecordKind(
    slot="invoice_number",
    label="invoice",
    parse=invoices.parse_invoice,
    owner=invoices.invoice_owner,
)


class ActionAskInvoiceNumber(AskRecordNumber):
    id_kind = "invoice"
    text = "ask.invoice_number"
    plain = "ask.invoice_number_plain"

    def name(self) -> str:
        return "action_ask_invoice_number"


class ActionAskInvoiceIdentity(AskRecordIdentity):
    kind = INVOICE

    def name(self) -> str:
        return "action_ask_invoice_form_identity"


class ValidateInvoiceForm(RecordVerificationForm):
    """Asks for the invoice number, then for an identity factor of its customer."""

    staff_area = "invoices"

    kind = INVOICE

    def name(self) -> str:
        return "validate_invoice_form"

    async def extract_invoice_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await self.extract_record_number(tracker)

    async def validate_invoice_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await self.validate_record_number(value, dispatcher, tracker)


def staff_factor(spec: MappingSpec) -> str:
    """How staff name a customer: by email address, or by customer number where the ERP
    keeps no email addresses."""
    return "email" if "email" in spec.concepts["customer"].fields else "number"


class ValidateUnpaidInvoicesForm(PrivateFormValidationAction):
    """Identifies the customer by every identity factor of the ERP (the mapping's two, e.g.
    email and postcode): all must be the same customer's.

    A conversation that proved one of them (on an order or an invoice) is asked for the
    other, which must be the same customer's. Staff (marked by the gateway) give the
    customer's email address only (or customer number, where there are no emails).
    """

    staff_area = "invoices"

    def name(self) -> str:
        return "validate_unpaid_invoices_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        spec = current_spec()
        payment = spec.concepts.get("payment")
        if "invoice" not in spec.concepts and (payment is None or "customer" not in payment.fields):
            raise NotKept("invoice", spec.missing.get("invoice", ""))
        if is_staff(tracker):
            return [FACTOR_SLOTS[staff_factor(spec)]]  # staff may look up any customer
        if attempts_exhausted(tracker):
            return []
        proof = verification(tracker)
        return [FACTOR_SLOTS[f] for f in spec.identity if proof is None or not proof.has(f)]

    async def validate_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await self._factor("email", value, dispatcher, tracker)

    async def validate_postcode(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await self._factor("postcode", value, dispatcher, tracker)

    async def validate_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await self._factor("phone", value, dispatcher, tracker)

    async def validate_customer_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await self._factor("number", value, dispatcher, tracker)

    async def _factor(
        self, factor: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        """Read one factor; once every factor is given, check them together."""
        spec = current_spec()
        slot = FACTOR_SLOTS[factor]
        typed = factor_value(factor, typed_identity(value, tracker), spec)
        if typed is None:
            # Why it is not one, and what one looks like (i18n/messages/invoices.yml).
            dispatcher.utter_message(text=say(f"invoices.hint.{factor}"))
            return {slot: None}
        if is_staff(tracker):
            return await self._staff_lookup(dispatcher, tracker, factor, typed)
        if factor not in spec.identity:
            return {slot: None}
        proof = verification(tracker)
        if proof is not None and not proof.has(factor):
            return await self._second_factor(dispatcher, tracker, proof, factor, typed)
        given = {factor: typed}
        for other in spec.identity:
            if other != factor:
                other_value = factor_value(
                    other, first_text(tracker.get_slot(FACTOR_SLOTS[other])), spec
                )
                if other_value is None:
                    return {slot: typed}  # checked together once the other is given
                given[other] = other_value
        if proof is not None or attempts_exhausted(tracker):
            return {slot: typed if proof is not None else None}
        every_slot = {FACTOR_SLOTS[f]: None for f in spec.identity}
        first = spec.identity[0]

        async def check() -> CustomerKey | None:
            return await erp_call(customers.find_customer, given)

        customer_id, slots = await checked_guess(
            dispatcher,
            tracker,
            record=f"{first}:{given[first].casefold()}",
            subject="account",
            check=check,
        )
        if customer_id is None:
            return {**every_slot, **slots}
        return {slot: VERIFIED, **verified_slot(tracker, customer_id, factors=set(spec.identity))}

    async def _staff_lookup(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, factor: str, typed: str
    ) -> dict[str, Any]:
        """A staff member names any customer by email (or customer number)."""
        slot = FACTOR_SLOTS[factor]
        if factor == "email":
            customer_id = await erp_call(customers.customer_id_for_email, typed)
        elif factor == "number":
            customer_id = await erp_call(customers.customer_id_for_number, typed)
        else:
            return {slot: None}
        if customer_id is None:
            nobody = say("invoices.no_customer", factor=say(f"factor.{factor}"), value=typed)
            dispatcher.utter_message(text=nobody)
            return {slot: None}
        return {slot: typed, **verified_slot(tracker, customer_id, factors={STAFF})}

    async def _second_factor(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        proof: Verification,
        factor: str,
        typed: str,
    ) -> dict[str, Any]:
        """Check the factor not proven yet: it must be the verified customer's; right, the
        verification gains it."""
        slot = FACTOR_SLOTS[factor]
        if attempts_exhausted(tracker):
            return {slot: None}

        async def check() -> CustomerKey | None:
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
            return {slot: None, **slots}
        return {slot: VERIFIED, **verified_slot(tracker, customer_id, factors={factor})}


class ActionInvoiceStatus(AnswerAction):
    """Status, total, amount still due, due date and days overdue of one invoice."""

    staff_area = "invoices"

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
            describe_invoice(status, current_language()),
        )
        dispatcher.utter_message(text=reply.text)
        return renewal_events(tracker, proof, status.invoice_number)


class ActionListUnpaidInvoices(AnswerAction):
    """The verified customer's open, overdue and partly paid invoices, oldest due first.

    Only for a conversation that proved both identity factors (or a staff lookup). An ERP
    without invoices but with payments against the customer gives those payments instead.
    """

    staff_area = "invoices"

    def name(self) -> str:
        return "action_list_unpaid_invoices"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        proof = verification(tracker)
        if proof is None or not proof.has(*current_spec().identity):
            return []  # the form already said why (failed verification, a group, an error)
        if "invoice" not in current_spec().concepts:
            # An ERP that books payments against the customer (classicmodels): what was paid.
            paid = await erp_call(payments.account_payments, customer_id=proof.customer_id)
            dispatcher.utter_message(text=describe_payments(paid, current_language()))
            return renewal_events(tracker, proof)
        unpaid = await erp_call(
            invoices.list_unpaid_invoices, customer_id=proof.customer_id, today=today()
        )
        dispatcher.utter_message(text=describe_unpaid(unpaid, current_language()))
        return renewal_events(tracker, proof)
