"""Invoice queries: ownership checks, one invoice's balance, and a customer's unpaid invoices.

Read through the mapping in use (erp/schema.py); an ERP without invoices raises NotKept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from erp.access import CustomerKey
from erp.customers import id_if_identity_matches
from erp.errors import AccessDenied, NotKept, RecordNotFound
from erp.ids import parse_invoice_number
from erp.models import UNPAID_INVOICE_STATUSES
from erp.schema import MappedSchema, as_date, current_spec, parse_id, schema_for

FIELDS = ("key", "number", "customer", "order", "issue_date", "due_date", "total", "amount_paid",
          "currency")  # fmt: skip


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


def due_by_currency(invoices: Iterable[InvoiceStatus]) -> dict[str, Decimal]:
    """What ``invoices`` leave due, summed per currency (in the order currencies appear)."""
    totals: dict[str, Decimal] = {}
    for invoice in invoices:
        totals[invoice.currency] = totals.get(invoice.currency, Decimal(0)) + invoice.amount_due
    return totals


def status_of(schema: MappedSchema, row: Any, today: date) -> InvoiceStatus:
    """Compute what is due and how late, so an open invoice past its due date reads overdue.

    ``row`` is one row of :func:`select_invoices`.
    """
    values = row._mapping
    recorded = schema.status_meaning("invoice", values.get("status"))
    total = Decimal(values["total"])
    paid = Decimal(values.get("amount_paid") or 0)
    due_date = as_date(values.get("due_date"))
    void = recorded == "void"
    amount_due = Decimal("0.00") if void else max(total - paid, Decimal(0))
    late = not void and amount_due > 0 and due_date is not None and due_date < today
    status = "overdue" if late and recorded == "open" else recorded
    return InvoiceStatus(
        invoice_number=str(values.get("number", values["key"])),
        order_number=str(values.get("order") or ""),
        status=status,
        issue_date=as_date(values.get("issue_date")) or date.min,
        due_date=due_date or date.min,
        total=total,
        amount_paid=paid,
        amount_due=amount_due,
        currency=values.get("currency") or schema.spec.currency,
        days_overdue=(today - due_date).days if late and due_date is not None else 0,
    )


def invoice_schema(session: Session) -> MappedSchema:
    """The mapping in use, when it keeps invoices.

    Raises:
        NotKept: the ERP keeps no invoices.
    """
    schema = schema_for(session)
    if not schema.has("invoice"):
        raise NotKept("invoice", schema.spec.missing.get("invoice", ""))
    return schema


def select_invoices(schema: MappedSchema) -> Select[Any]:
    """SELECT every invoice with the fields :func:`status_of` reads."""
    return schema.select("invoice", *FIELDS, status=True)


def select_unpaid(schema: MappedSchema) -> Select[Any]:
    """:func:`select_invoices` narrowed to the stored statuses that may mean unpaid (every
    invoice when the status is derived): keep the rows whose :func:`status_of` status is one
    of UNPAID_INVOICE_STATUSES."""
    query = select_invoices(schema)
    unpaid = schema.raw_statuses("invoice", UNPAID_INVOICE_STATUSES)
    if unpaid is not None:
        query = query.where(schema.status_column("invoice").in_(unpaid))
    return query


def _number(schema: MappedSchema, text: str) -> tuple[str, Any]:
    number = schema.parse_id("invoice", text, parse_invoice_number)
    return number, schema.key("invoice", schema.number_field("invoice"), number)


def invoice_customer_if_identity_matches(
    invoice_number: str, identity: str, *, session: Session
) -> CustomerKey | None:
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


def parse_invoice(text: str) -> str:
    """The invoice number a customer typed, in the form of the mapping in use; no query.

    Raises:
        InvalidIdentifier: not shaped like an invoice number of this ERP.
    """
    return parse_id(current_spec(), "invoice", text, parse_invoice_number)


def invoice_owner(invoice_number: str, *, session: Session) -> CustomerKey | None:
    """Return the id of the invoice's customer, or None when there is no such invoice.

    Only for callers that may see any invoice (staff); customers go through
    :func:`invoice_customer_if_identity_matches`.

    Raises:
        InvalidIdentifier: ``invoice_number`` is not shaped like an invoice number.
    """
    schema = invoice_schema(session)
    _, key = _number(schema, invoice_number)
    if key is None:
        return None
    field = schema.number_field("invoice")
    owners = session.scalars(
        schema.select("invoice", "customer").where(schema.c("invoice", field) == key).limit(2)
    ).all()
    return owners[0] if len(owners) == 1 else None


def get_invoice_status(
    invoice_number: str, *, customer_id: CustomerKey, today: date, session: Session
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
    schema = invoice_schema(session)
    number, key = _number(schema, invoice_number)
    field = schema.number_field("invoice")
    row = None
    if key is not None:
        row = session.execute(
            select_invoices(schema).where(schema.c("invoice", field) == key)
        ).first()
    if row is None:
        raise RecordNotFound("invoice", number)
    if row.customer != customer_id:
        raise AccessDenied("invoice", number, customer_id=customer_id)
    return status_of(schema, row, today)


def list_unpaid_invoices(
    *, customer_id: CustomerKey, today: date, session: Session
) -> list[InvoiceStatus]:
    """Return the customer's open, overdue and partially paid invoices, oldest due date first.

    Args:
        customer_id: The verified customer asking.
        today: The day to measure lateness against.
        session: Open database session.
    """
    schema = invoice_schema(session)
    order = [schema.c("invoice", f) for f in ("due_date", "number") if schema.has("invoice", f)]
    query = select_unpaid(schema).where(schema.c("invoice", "customer") == customer_id)
    rows = session.execute(query.order_by(*order))
    statuses = [status_of(schema, row, today) for row in rows]
    return [s for s in statuses if s.status in UNPAID_INVOICE_STATUSES]
