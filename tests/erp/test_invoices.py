"""Invoice balances, lateness and the list of a customer's unpaid invoices."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from erp.errors import AccessDenied, RecordNotFound
from erp.invoices import get_invoice_status, list_unpaid_invoices
from erp.models import Invoice
from tests.erp.conftest import SEED_TODAY


def _invoice_with_status(session: Session, status: str) -> Invoice:
    return session.scalars(
        select(Invoice).where(Invoice.status == status).order_by(Invoice.invoice_number)
    ).first() or pytest.fail(f"no {status} invoice seeded")


def test_overdue_invoice_reports_days_overdue_and_amount_due(session: Session) -> None:
    invoice = _invoice_with_status(session, "overdue")
    result = get_invoice_status(
        invoice.invoice_number, customer_id=invoice.customer_id, today=SEED_TODAY, session=session
    )
    assert result.status == "overdue"
    assert result.days_overdue == (SEED_TODAY - invoice.due_date).days > 0
    assert result.amount_due == invoice.total - invoice.amount_paid == invoice.total
    assert (result.order_number, result.currency) == (invoice.order_number, invoice.currency)


def test_partially_paid_invoice_owes_the_rest(session: Session) -> None:
    invoice = _invoice_with_status(session, "partially_paid")
    result = get_invoice_status(
        invoice.invoice_number, customer_id=invoice.customer_id, today=SEED_TODAY, session=session
    )
    assert result.amount_paid == invoice.amount_paid
    assert result.amount_due == invoice.total - invoice.amount_paid
    assert Decimal(0) < result.amount_due < result.total


def test_paid_invoice_is_never_overdue(session: Session) -> None:
    invoice = _invoice_with_status(session, "paid")
    later = invoice.due_date + timedelta(days=100)
    result = get_invoice_status(
        invoice.invoice_number, customer_id=invoice.customer_id, today=later, session=session
    )
    assert (result.status, result.amount_due, result.days_overdue) == ("paid", Decimal(0), 0)


def test_void_invoice_has_nothing_due(session: Session) -> None:
    invoice = _invoice_with_status(session, "void")
    later = invoice.due_date + timedelta(days=30)
    result = get_invoice_status(
        invoice.invoice_number, customer_id=invoice.customer_id, today=later, session=session
    )
    assert (result.status, result.amount_due, result.days_overdue) == ("void", Decimal(0), 0)


def test_open_invoice_turns_overdue_after_its_due_date(session: Session) -> None:
    invoice = _invoice_with_status(session, "open")
    on_time = get_invoice_status(
        invoice.invoice_number, customer_id=invoice.customer_id, today=SEED_TODAY, session=session
    )
    late = get_invoice_status(
        invoice.invoice_number,
        customer_id=invoice.customer_id,
        today=invoice.due_date + timedelta(days=3),
        session=session,
    )
    assert (on_time.status, on_time.days_overdue) == ("open", 0)
    assert (late.status, late.days_overdue) == ("overdue", 3)


def test_other_customers_invoice_is_denied_and_missing_is_not_found(session: Session) -> None:
    invoice = _invoice_with_status(session, "paid")
    with pytest.raises(AccessDenied):
        get_invoice_status(
            invoice.invoice_number,
            customer_id=invoice.customer_id + 1,
            today=SEED_TODAY,
            session=session,
        )
    with pytest.raises(RecordNotFound):
        get_invoice_status(
            "INV-299999", customer_id=invoice.customer_id, today=SEED_TODAY, session=session
        )


def test_unpaid_list_holds_only_this_customers_unpaid_invoices(session: Session) -> None:
    customer_id = _invoice_with_status(session, "overdue").customer_id
    expected = set(
        session.scalars(
            select(Invoice.invoice_number).where(
                Invoice.customer_id == customer_id,
                Invoice.status.in_(("open", "overdue", "partially_paid")),
            )
        )
    )

    unpaid = list_unpaid_invoices(customer_id=customer_id, today=SEED_TODAY, session=session)

    assert {i.invoice_number for i in unpaid} == expected
    assert all(i.amount_due > 0 for i in unpaid)
    assert [i.due_date for i in unpaid] == sorted(i.due_date for i in unpaid)
    assert any(i.days_overdue > 0 for i in unpaid)


def test_unpaid_list_is_empty_for_unknown_customer(session: Session) -> None:
    assert list_unpaid_invoices(customer_id=999_999, today=SEED_TODAY, session=session) == []
