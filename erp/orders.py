"""Sales order queries: ownership checks and order status with shipment tracking.

Read through the mapping in use (erp/schema.py): the demo schema or a company's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from erp.access import CustomerKey
from erp.customers import id_if_identity_matches
from erp.errors import AccessDenied, RecordNotFound
from erp.ids import parse_order_number
from erp.schema import MappedSchema, as_date, current_spec, parse_id, schema_for


@dataclass(frozen=True)
class ShipmentInfo:
    """Where an order's parcel is: carrier, tracking number and delivery dates."""

    carrier: str
    tracking_number: str
    shipped_at: datetime
    estimated_delivery: date | None
    delivered_at: datetime | None


@dataclass(frozen=True)
class OrderStatus:
    """What a customer may learn about one of their orders."""

    order_number: str
    status: str
    order_date: date
    total: Decimal | None
    currency: str | None
    line_count: int
    shipment: ShipmentInfo | None


def order_customer_if_identity_matches(
    order_number: str, identity: str, *, session: Session
) -> CustomerKey | None:
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


def order_owner(order_number: str, *, session: Session) -> CustomerKey | None:
    """Return the id of the customer who placed the order, or None when there is no such order.

    Only for callers that may see any order (staff); customers go through
    :func:`order_customer_if_identity_matches`.

    Raises:
        InvalidIdentifier: ``order_number`` is not shaped like an order number.
    """
    schema = schema_for(session)
    number = order_id(schema, order_number)
    field = schema.number_field("order")
    quoted = schema.key("order", field, number)
    if quoted is None:
        return None
    owners = session.scalars(
        select(schema.c("order", "customer")).where(schema.c("order", field) == quoted).limit(2)
    ).all()
    return owners[0] if len(owners) == 1 else None


def order_id(schema: MappedSchema, text: str) -> str:
    """The order number a customer typed, as the mapping's orders hold it.

    Raises:
        InvalidIdentifier: not shaped like an order number of this ERP.
    """
    return schema.parse_id("order", text, parse_order_number)


def parse_order(text: str) -> str:
    """The order number a customer typed, in the form of the mapping in use; no query.

    Raises:
        InvalidIdentifier: not shaped like an order number of this ERP.
    """
    return parse_id(current_spec(), "order", text, parse_order_number)


def get_order_status(
    order_number: str, *, customer_id: CustomerKey, session: Session
) -> OrderStatus:
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
    schema = schema_for(session)
    number = order_id(schema, order_number)
    field = schema.number_field("order")
    quoted = schema.key("order", field, number)
    order = None
    if quoted is not None:
        order = session.execute(
            schema.select("order", "key", field, "customer", "date", "total", status=True).where(
                schema.c("order", field) == quoted
            )
        ).first()
    if order is None:
        raise RecordNotFound("order", number)
    if order.customer != customer_id:
        raise AccessDenied("order", number, customer_id=customer_id)
    key = order.key  # what order lines, invoices and shipments refer to
    line_count: int | None = 0
    if schema.has("order_line"):
        line_count = session.scalar(
            select(func.count())
            .select_from(schema.table("order_line"))
            .where(schema.c("order_line", "order") == key)
        )
    return OrderStatus(
        order_number=str(order._mapping[field]),
        status=schema.status_meaning("order", order.status) if "status" in order._fields else "",
        order_date=as_date(order.date) or date.min,
        total=order.total if "total" in order._fields else None,
        currency=_currency(schema, key, session),
        line_count=line_count or 0,
        shipment=_shipment(schema, key, session),
    )


def _currency(schema: MappedSchema, key: object, session: Session) -> str | None:
    """The currency of the order's latest invoice; the company's when it keeps no invoices."""
    if not (schema.has("invoice", "order") and schema.has("invoice", "currency")):
        return schema.spec.currency
    latest = [schema.c("invoice", "issue_date")] if schema.has("invoice", "issue_date") else []
    return session.scalars(
        select(schema.c("invoice", "currency"))
        .where(schema.c("invoice", "order") == key)
        .order_by(*(c.desc() for c in latest), schema.c("invoice", "key").desc())
        .limit(1)
    ).first()


def _shipment(schema: MappedSchema, key: object, session: Session) -> ShipmentInfo | None:
    if not schema.has("shipment"):
        return None
    fields = ("shipped_date", "carrier", "tracking", "estimated_delivery", "delivered_date")
    row = session.execute(
        schema.select("shipment", *fields).where(schema.c("shipment", "order") == key).limit(1)
    ).first()
    if row is None or row.shipped_date is None:
        return None
    values = row._mapping
    return ShipmentInfo(
        carrier=values.get("carrier") or "",
        tracking_number=values.get("tracking") or "",
        shipped_at=row.shipped_date,
        estimated_delivery=as_date(values.get("estimated_delivery")),
        delivered_at=values.get("delivered_date"),
    )
