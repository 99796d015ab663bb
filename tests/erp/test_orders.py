"""Order status reads the same facts as the tables, and only for the order's customer."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from erp.errors import AccessDenied, InvalidIdentifier, RecordNotFound
from erp.models import Customer, Invoice, OrderLine, SalesOrder, Shipment
from erp.orders import get_order_status


def _order_with_status(session: Session, status: str) -> SalesOrder:
    return session.scalars(
        select(SalesOrder).where(SalesOrder.status == status).order_by(SalesOrder.order_number)
    ).first() or pytest.fail(f"no {status} order seeded")


@pytest.mark.parametrize("status", ["delivered", "shipped"], ids=["delivered", "shipped"])
def test_shipped_order_status_matches_the_tables(session: Session, status: str) -> None:
    order = _order_with_status(session, status)
    shipment = session.scalars(
        select(Shipment).where(Shipment.order_number == order.order_number)
    ).one()
    lines = session.scalar(
        select(func.count())
        .select_from(OrderLine)
        .where(OrderLine.order_number == order.order_number)
    )
    currency = session.scalar(
        select(Invoice.currency).where(Invoice.order_number == order.order_number)
    )

    result = get_order_status(order.order_number, customer_id=order.customer_id, session=session)

    assert (result.order_number, result.status, result.order_date, result.total) == (
        order.order_number,
        status,
        order.order_date,
        order.total,
    )
    assert result.line_count == lines
    assert result.currency == currency
    assert result.shipment is not None
    assert result.shipment.carrier == shipment.carrier
    assert result.shipment.tracking_number == shipment.tracking_number
    assert result.shipment.shipped_at == shipment.shipped_at
    assert result.shipment.estimated_delivery == shipment.estimated_delivery
    assert result.shipment.delivered_at == shipment.delivered_at
    assert (result.shipment.delivered_at is None) == (status == "shipped")


@pytest.mark.parametrize("status", ["pending", "confirmed", "picking", "on_hold"], ids=lambda s: s)
def test_unshipped_order_has_no_shipment(session: Session, status: str) -> None:
    order = _order_with_status(session, status)
    result = get_order_status(order.order_number, customer_id=order.customer_id, session=session)
    assert result.status == status
    assert result.shipment is None


def test_loose_order_number_is_accepted(session: Session) -> None:
    order = _order_with_status(session, "delivered")
    loose = order.order_number.replace("SO-", "so ")
    result = get_order_status(loose, customer_id=order.customer_id, session=session)
    assert result.order_number == order.order_number


def test_other_customers_order_is_access_denied(session: Session) -> None:
    order = _order_with_status(session, "delivered")
    other = session.scalar(select(func.min(Customer.id)).where(Customer.id != order.customer_id))
    assert other is not None
    with pytest.raises(AccessDenied) as denied:
        get_order_status(order.order_number, customer_id=other, session=session)
    assert denied.value.customer_id == other
    # Worded like "not found", so showing it never reveals that the order exists.
    assert str(denied.value) == f"no order {order.order_number} was found for this customer"


def test_missing_order_is_record_not_found(session: Session) -> None:
    with pytest.raises(RecordNotFound) as missing:
        get_order_status("SO-199999", customer_id=1, session=session)
    assert missing.value.key == "SO-199999"


def test_malformed_order_number_is_invalid_identifier(session: Session) -> None:
    with pytest.raises(InvalidIdentifier, match="order numbers look like SO-100123"):
        get_order_status("SO-12", customer_id=1, session=session)
