"""Invoice queries: ownership checks, one invoice's balance, and a customer's unpaid invoices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from erp.customers import id_if_identity_matches
from erp.errors import AccessDenied, RecordNotFound
from erp.ids import parse_invoice_number
from erp.models import UNPAID_INVOICE_STATUSES, Invoice


@dataclass(frozen=True)
class InvoiceStatus:
    """An invoice's balance as of a given day."""

    invoice_number: str
    order_number: str
    status: str
    issue_date: date
    due_date: date
    total: Decimal
    amount_paid: Decimal
    amount_due: Decimal
    currency: str
    days_overdue: int


def _status_of(invoice: Invoice, today: date) -> InvoiceStatus:
    """Compute what is due and how late, so an open invoice past its due date reads overdue."""
    void = invoice.status == "void"
    amount_due = Decimal("0.00") if void else max(invoice.total - invoice.amount_paid, Decimal(0))
    late = not void and amount_due > 0 and invoice.due_date < today
    status = "overdue" if late and invoice.status == "open" else invoice.status
    return InvoiceStatus(
        invoice_number=invoice.invoice_number,
        order_number=invoice.order_number,
        status=status,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        total=invoice.total,
        amount_paid=invoice.amount_paid,
        amount_due=amount_due,
        currency=invoice.currency,
        days_overdue=(today - invoice.due_date).days if late else 0,
    )


def invoice_customer_if_identity_matches(
    invoice_number: str, identity: str, *, session: Session
) -> int | None:
    """Return the invoice's customer id if ``identity`` is that customer's email or postcode.

    Args:
        invoice_number: An invoice number in any form
            :func:`erp.ids.parse_invoice_number` accepts.
        identity: Email (any case) or postcode (any case or spacing) typed by the user.
        session: Open database session.

    Returns:
        The customer id, or None both when the identity is wrong and when the invoice does
        not exist.

    Raises:
        InvalidIdentifier: ``invoice_number`` is not shaped like an invoice number.
    """
    owner = invoice_owner(invoice_number, session=session)
    return id_if_identity_matches(owner, identity, session=session)


def invoice_owner(invoice_number: str, *, session: Session) -> int | None:
    """Return the id of the invoice's customer, or None when there is no such invoice.

    Only for callers that may see any invoice (staff); customers go through
    :func:`invoice_customer_if_identity_matches`.

    Raises:
        InvalidIdentifier: ``invoice_number`` is not shaped like an invoice number.
    """
    number = parse_invoice_number(invoice_number)
    return session.scalars(
        select(Invoice.customer_id).where(Invoice.invoice_number == number)
    ).one_or_none()


def invoice_belongs_to(invoice_number: str, customer_id: int, *, session: Session) -> bool:
    """Return True when the invoice exists and is this customer's.

    Raises:
        InvalidIdentifier: ``invoice_number`` is not shaped like an invoice number.
    """
    return invoice_owner(invoice_number, session=session) == customer_id


def get_invoice_status(
    invoice_number: str, *, customer_id: int, today: date, session: Session
) -> InvoiceStatus:
    """Return an invoice's balance for the customer it was issued to.

    An ``open`` invoice whose due date has passed by ``today`` is reported as ``overdue``.
    ``days_overdue`` is 0 unless money is still due after the due date; a void invoice has
    nothing due.

    Args:
        invoice_number: An invoice number in any form
            :func:`erp.ids.parse_invoice_number` accepts.
        customer_id: The verified customer asking.
        today: The day to measure lateness against.
        session: Open database session.

    Raises:
        InvalidIdentifier: ``invoice_number`` is not shaped like an invoice number.
        RecordNotFound: No such invoice.
        AccessDenied: The invoice is another customer's (treat it like RecordNotFound).
    """
    number = parse_invoice_number(invoice_number)
    invoice = session.get(Invoice, number)
    if invoice is None:
        raise RecordNotFound("invoice", number)
    if invoice.customer_id != customer_id:
        raise AccessDenied("invoice", number, customer_id=customer_id)
    return _status_of(invoice, today)


def list_unpaid_invoices(*, customer_id: int, today: date, session: Session) -> list[InvoiceStatus]:
    """Return the customer's open, overdue and partially paid invoices, oldest due date first.

    Args:
        customer_id: The verified customer asking.
        today: The day to measure lateness against.
        session: Open database session.
    """
    invoices = session.scalars(
        select(Invoice)
        .where(Invoice.customer_id == customer_id, Invoice.status.in_(UNPAID_INVOICE_STATUSES))
        .order_by(Invoice.due_date, Invoice.invoice_number)
    )
    return [_status_of(invoice, today) for invoice in invoices]
