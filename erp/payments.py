"""Payments on a customer's account, for ERPs that book payments against the customer
rather than against invoices (classicmodels). Read through the mapping in use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from erp.access import CustomerKey
from erp.errors import NotKept
from erp.schema import as_date, schema_for

RECENT_PAYMENTS = 5


@dataclass(frozen=True)
class Payment:
    """One payment received."""

    date: date | None
    amount: Decimal
    reference: str


@dataclass(frozen=True)
class AccountPayments:
    """What a customer has paid: every payment counted and summed, the latest listed."""

    count: int
    total: Decimal
    currency: str
    recent: list[Payment]


def account_payments(
    *, customer_id: CustomerKey, session: Session, limit: int = RECENT_PAYMENTS
) -> AccountPayments:
    """The payments booked against the customer's account, newest first.

    Raises:
        NotKept: the ERP books no payments against customers (none at all, or only against
            invoices, which :mod:`erp.invoices` answers for).
    """
    schema = schema_for(session)
    if not schema.has("payment", "customer"):
        raise NotKept("payment", schema.spec.missing.get("payment", ""))
    mine = schema.c("payment", "customer") == customer_id
    amount = schema.c("payment", "amount")
    count, total = session.execute(
        select(func.count(), func.coalesce(func.sum(amount), 0))
        .select_from(schema.table("payment"))
        .where(mine)
    ).one()
    query = schema.select("payment", "date", "amount", "reference").where(mine)
    if schema.has("payment", "date"):
        query = query.order_by(schema.c("payment", "date").desc())
    rows = session.execute(query.limit(limit)).all()
    recent = [
        Payment(
            date=as_date(row._mapping.get("date")),
            amount=Decimal(row.amount),
            reference=str(row._mapping.get("reference") or ""),
        )
        for row in rows
    ]
    return AccountPayments(int(count), Decimal(total), schema.spec.currency, recent)
