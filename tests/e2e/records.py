"""Records of the seeded demo ERP that the end-to-end conversations ask about."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from erp.models import Customer, SalesOrder, Shipment


def order_with(db: Session, status: str, *, offset: int = 0) -> tuple[SalesOrder, Customer]:
    """The ``offset``-th order in ``status`` (by number) and its customer."""
    order = db.scalars(
        select(SalesOrder).where(SalesOrder.status == status).order_by(SalesOrder.order_number)
        .offset(offset).limit(1)
    ).one()  # fmt: skip
    customer = db.get(Customer, order.customer_id)
    assert customer is not None
    return order, customer


def shipment_of(db: Session, order: SalesOrder) -> Shipment:
    return db.scalars(select(Shipment).where(Shipment.order_number == order.order_number)).one()


def amount(value: Decimal) -> str:
    """An amount as both languages' answers write it: 1,234.50."""
    return f"{value:,.2f}"
