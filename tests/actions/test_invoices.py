"""The invoice forms and answers, against a seeded ERP."""

from __future__ import annotations

from datetime import date

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.invoices import (
    ActionInvoiceStatus,
    ActionListUnpaidInvoices,
    ValidateInvoiceForm,
    ValidateUnpaidInvoicesForm,
)
from actions.verification import not_verified
from erp.models import Customer, Invoice
from tests.actions.conftest import proof_in, slot_events, texts, tracker, verified

UNPAID = ("open", "overdue", "partially_paid")


def an_invoice(db: Session, status: str) -> tuple[Invoice, Customer]:
    invoice = db.scalars(select(Invoice).where(Invoice.status == status).limit(1)).one()
    return invoice, db.get(Customer, invoice.customer_id)


async def test_invoice_number_is_normalised(dispatcher: CollectingDispatcher, domain: dict) -> None:
    result = await ValidateInvoiceForm().validate_invoice_number(
        "inv200456", dispatcher, tracker(), domain
    )
    assert result == {"invoice_number": "INV-200456"}


async def test_postcode_verifies_the_invoices_customer(erp_db: Session, domain: dict) -> None:
    invoice, customer = an_invoice(erp_db, "overdue")
    result = await ValidateInvoiceForm().validate_identity(
        customer.postcode.lower().replace(" ", ""),
        CollectingDispatcher(),
        tracker({"invoice_number": invoice.invoice_number}),
        domain,
    )
    assert result["identity"] == "verified"
    assert proof_in(result).customer_id == customer.id
    assert proof_in(result).records == {invoice.invoice_number}


async def test_overdue_invoice_answer_has_amount_due_and_days(
    erp_db: Session, dispatcher: CollectingDispatcher, domain: dict
) -> None:
    invoice, customer = an_invoice(erp_db, "overdue")
    await ActionInvoiceStatus().run(
        dispatcher,
        tracker({"invoice_number": invoice.invoice_number, **verified(customer.id)}),
        domain,
    )
    reply = texts(dispatcher)
    due = invoice.total - invoice.amount_paid
    assert invoice.invoice_number in reply and "overdue" in reply
    assert f"{due:,.2f}" in reply
    assert f"{(date.today() - invoice.due_date).days} day" in reply


async def test_void_invoice_says_nothing_is_due(
    erp_db: Session, dispatcher: CollectingDispatcher, domain: dict
) -> None:
    invoice, customer = an_invoice(erp_db, "void")
    await ActionInvoiceStatus().run(
        dispatcher,
        tracker({"invoice_number": invoice.invoice_number, **verified(customer.id)}),
        domain,
    )
    assert "voided" in texts(dispatcher)


async def test_email_and_postcode_of_different_customers_do_not_verify(
    erp_db: Session, dispatcher: CollectingDispatcher, domain: dict
) -> None:
    a, b = erp_db.scalars(select(Customer).order_by(Customer.id).limit(2)).all()
    result = await ValidateUnpaidInvoicesForm().validate_postcode(
        b.postcode, dispatcher, tracker({"email": a.email}), domain
    )
    assert result == {"email": None, "postcode": None, "verification_attempts": 1}
    assert texts(dispatcher) == not_verified()


async def test_email_and_postcode_of_one_customer_verify(erp_db: Session, domain: dict) -> None:
    customer = erp_db.scalars(select(Customer).limit(1)).one()
    result = await ValidateUnpaidInvoicesForm().validate_postcode(
        customer.postcode, CollectingDispatcher(), tracker({"email": customer.email}), domain
    )
    assert proof_in(result).customer_id == customer.id
    assert proof_in(result).factors == {"email", "postcode"}


async def test_malformed_email_is_refused_with_the_reason(
    dispatcher: CollectingDispatcher, domain: dict
) -> None:
    result = await ValidateUnpaidInvoicesForm().validate_email(
        "bob at firm", dispatcher, tracker(), domain
    )
    assert result == {"email": None}
    assert "email" in texts(dispatcher)


async def test_unpaid_list_has_exactly_the_customers_unpaid_invoices(
    erp_db: Session, dispatcher: CollectingDispatcher, domain: dict
) -> None:
    _, customer = an_invoice(erp_db, "partially_paid")
    expected = set(
        erp_db.scalars(
            select(Invoice.invoice_number).where(
                Invoice.customer_id == customer.id, Invoice.status.in_(UNPAID)
            )
        )
    )
    others = set(
        erp_db.scalars(select(Invoice.invoice_number).where(Invoice.customer_id != customer.id))
    )
    events = await ActionListUnpaidInvoices().run(
        dispatcher, tracker(verified(customer.id, "email", "postcode")), domain
    )
    reply = texts(dispatcher)
    assert all(number in reply for number in expected)
    assert not any(number in reply for number in others)
    assert slot_events(events)["email"] is None


async def test_customer_verified_with_both_factors_is_not_asked_again(domain: dict) -> None:
    required = await ValidateUnpaidInvoicesForm().required_slots(
        ["email", "postcode"],
        CollectingDispatcher(),
        tracker(verified(7, "email", "postcode")),
        domain,
    )
    assert required == []
