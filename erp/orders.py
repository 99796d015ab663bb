"""Sales order queries: ownership checks and order status with shipment tracking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from erp.customers import id_if_identity_matches
from erp.errors import AccessDenied, RecordNotFound
from erp.ids import parse_order_number
from erp.models import Invoice, OrderLine, SalesOrder, Shipment


@dataclass(frozen=True)
class ShipmentInfo:
    """Where an order's parcel is: carrier, tracking number and delivery dates."""

    carrier: str
    tracking_number: str
    shipped_at: datetime
    estimated_delivery: date
    delivered_at: datetime | None


@dataclass(frozen=True)
class OrderStatus:
    """What a customer may learn about one of their orders."""

    order_number: str
    status: str
    order_date: date
    total: Decimal
    currency: str | None
    line_count: int
    shipment: ShipmentInfo | None


def order_customer_if_identity_matches(
    order_number: str, identity: str, *, session: Session
) -> int | None:
    """Return the order's customer id if ``identity`` is that customer's email or postcode.

    Example:
        >>> order_customer_if_identity_matches("SO-100123", "m1 1ae", session=session)
        42

    Args:
        order_number: An order number in any form :func:`erp.ids.parse_order_number` accepts.
        identity: Email (any case) or postcode (any case or spacing) typed by the user.
        session: Open database session.

    Returns:
        The customer id, or None both when the identity is wrong and when the order does not
        exist, so callers cannot reveal which.

    Raises:
        InvalidIdentifier: ``order_number`` is not shaped like an order number.
    """
    owner = order_owner(order_number, session=session)
    return id_if_identity_matches(owner, identity, session=session)


def order_owner(order_number: str, *, session: Session) -> int | None:
    """Return the id of the customer who placed the order, or None when there is no such order.

    Only for callers that may see any order (staff); customers go through
    :func:`order_customer_if_identity_matches`.

    Raises:
        InvalidIdentifier: ``order_number`` is not shaped like an order number.
    """
    number = parse_order_number(order_number)
    return session.scalars(
        select(SalesOrder.customer_id).where(SalesOrder.order_number == number)
    ).one_or_none()


def order_belongs_to(order_number: str, customer_id: int, *, session: Session) -> bool:
    """Return True when the order exists and is this customer's.

    Raises:
        InvalidIdentifier: ``order_number`` is not shaped like an order number.
    """
    return order_owner(order_number, session=session) == customer_id


def get_order_status(order_number: str, *, customer_id: int, session: Session) -> OrderStatus:
    """Return an order's status, total and shipment for the customer who placed it.

    Args:
        order_number: An order number in any form :func:`erp.ids.parse_order_number` accepts.
        customer_id: The verified customer asking.
        session: Open database session.

    Returns:
        The order's status; ``shipment`` is None until the order ships, ``currency`` is None
        when the order has no invoice yet.

    Raises:
        InvalidIdentifier: ``order_number`` is not shaped like an order number.
        RecordNotFound: No such order.
        AccessDenied: The order is another customer's (treat it like RecordNotFound).
    """
    number = parse_order_number(order_number)
    order = session.get(SalesOrder, number)
    if order is None:
        raise RecordNotFound("order", number)
    if order.customer_id != customer_id:
        raise AccessDenied("order", number, customer_id=customer_id)
    line_count = session.scalar(
        select(func.count()).select_from(OrderLine).where(OrderLine.order_number == number)
    )
    currency = session.scalars(
        select(Invoice.currency)
        .where(Invoice.order_number == number)
        .order_by(Invoice.issue_date.desc(), Invoice.invoice_number.desc())
        .limit(1)
    ).first()
    shipment = session.scalars(select(Shipment).where(Shipment.order_number == number)).first()
    return OrderStatus(
        order_number=order.order_number,
        status=order.status,
        order_date=order.order_date,
        total=order.total,
        currency=currency,
        line_count=line_count or 0,
        shipment=None
        if shipment is None
        else ShipmentInfo(
            carrier=shipment.carrier,
            tracking_number=shipment.tracking_number,
            shipped_at=shipment.shipped_at,
            estimated_delivery=shipment.estimated_delivery,
            delivered_at=shipment.delivered_at,
        ),
    )
