"""Returns (RMA) of delivered goods within the company's return window.

The window, the RMA's validity and the reasons come from the company facts
(``COMPANY_FACTS_FILE``, default data/company.yml), the same file the returns policy document
states them from (retrieval/facts.py): one place. What was ordered and when it was delivered
is read through the mapping (order lines, shipment's delivered date); the RMA is written with
erp/writes.py's once-per-key transaction into ``assistant_returns``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from erp.access import CustomerKey
from erp.errors import AccessDenied, RecordNotFound
from erp.models import AssistantReturn, AssistantReturnLine
from erp.orders import order_id
from erp.schema import MappedSchema, as_date, schema_for
from erp.settings import COMPANY_FACTS_FILE

RMA_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


@dataclass(frozen=True)
class ReturnsPolicy:
    """How long after delivery goods may come back, how long an RMA lasts, and why."""

    window_days: int
    rma_valid_days: int
    reasons: dict[str, str]
    policy_url: str = ""


@lru_cache(maxsize=4)
def _policy(path: str, modified: float) -> ReturnsPolicy:
    facts = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    returns = facts.get("returns") if isinstance(facts, dict) else None
    if not isinstance(returns, dict):
        raise ValueError(f"{path}: no `returns:` facts")
    window, valid, reasons = (
        returns.get("window_days"),
        returns.get("rma_valid_days"),
        returns.get("reasons"),
    )
    if not isinstance(window, int) or not isinstance(valid, int) or window < 1 or valid < 1:
        raise ValueError(f"{path}: returns.window_days and rma_valid_days must be whole days")
    if not isinstance(reasons, dict) or not reasons:
        raise ValueError(f"{path}: returns.reasons must map codes to descriptions")
    reasons_by_code = {str(k): str(v) for k, v in reasons.items()}
    return ReturnsPolicy(window, valid, reasons_by_code, str(returns.get("policy_url") or ""))


def returns_policy() -> ReturnsPolicy:
    """The company's returns facts (read again when the file changes).

    Raises:
        ValueError: the facts file has no usable ``returns:`` section.
    """
    path = COMPANY_FACTS_FILE.current()
    return _policy(str(path.resolve()), path.stat().st_mtime)


@dataclass(frozen=True)
class ReturnableLine:
    """One order line: the product, how many were ordered and how many may still come back."""

    sku: str
    name: str
    ordered: int
    returnable: int


@dataclass(frozen=True)
class ReturnableOrder:
    """What of an order may be returned today; ``refusal`` says why nothing may be.

    ``refusal``: "" (returnable), ``not_delivered`` or ``window_passed``.
    """

    order_number: str
    delivered: date | None
    last_day: date | None
    lines: list[ReturnableLine] = field(default_factory=list)
    refusal: str = ""


def returnable_order(
    order_number: str,
    *,
    customer_id: CustomerKey,
    today: date,
    session: Session,
    returned: Mapping[str, int] | None = None,
) -> ReturnableOrder:
    """The verified customer's order, with what may still be returned today.

    ``returned``: quantities already under an RMA per product (the write transaction passes
    them; the conversation's read sees the lines as ordered).

    Raises:
        RecordNotFound / AccessDenied: no such order, or another customer's.
    """
    schema = schema_for(session)
    policy = returns_policy()
    number, key = _order_key(schema, order_number, customer_id, session)
    delivered = _delivered(schema, key, session)
    if delivered is None:
        return ReturnableOrder(number, None, None, refusal="not_delivered")
    last_day = delivered + timedelta(days=policy.window_days)
    lines = _lines(schema, key, session, returned or {})
    refusal = "window_passed" if today > last_day else ""
    return ReturnableOrder(number, delivered, last_day, lines, refusal)


def _order_key(
    schema: MappedSchema, order_number: str, customer_id: CustomerKey, session: Session
) -> tuple[str, Any]:
    number = order_id(schema, order_number)
    field_ = schema.number_field("order")
    quoted = schema.key("order", field_, number)
    row = None
    if quoted is not None:
        row = session.execute(
            schema.select("order", "key", "customer").where(schema.c("order", field_) == quoted)
        ).first()
    if row is None:
        raise RecordNotFound("order", number)
    if row.customer != customer_id:
        raise AccessDenied("order", number, customer_id=customer_id)
    return number, row.key


def _delivered(schema: MappedSchema, key: Any, session: Session) -> date | None:
    if not schema.has("shipment", "delivered_date"):
        return None
    value = session.scalars(
        select(schema.c("shipment", "delivered_date"))
        .where(schema.c("shipment", "order") == key)
        .limit(1)
    ).first()
    return as_date(value)


def _lines(
    schema: MappedSchema, key: Any, session: Session, returned: Mapping[str, int]
) -> list[ReturnableLine]:
    names = dict(
        session.execute(
            select(schema.c("product", "key"), schema.c("product", "name")).where(
                schema.c("product", "key").in_(
                    select(schema.c("order_line", "product")).where(
                        schema.c("order_line", "order") == key
                    )
                )
            )
        ).all()
    )
    rows = session.execute(
        select(schema.c("order_line", "product"), func.sum(schema.c("order_line", "quantity")))
        .where(schema.c("order_line", "order") == key)
        .group_by(schema.c("order_line", "product"))
        .order_by(schema.c("order_line", "product"))
    ).all()
    return [
        ReturnableLine(
            sku=str(product),
            name=str(names.get(product, product)),
            ordered=int(quantity),
            returnable=max(int(quantity) - returned.get(str(product), 0), 0),
        )
        for product, quantity in rows
    ]


def already_returned(order_number: str, session: Session) -> dict[str, int]:
    """Quantities per product under earlier RMAs of this order (on the write connection,
    where the table is made at the first change)."""
    rows = session.execute(
        select(AssistantReturnLine.sku, func.sum(AssistantReturnLine.quantity))
        .join(AssistantReturn, AssistantReturn.rma == AssistantReturnLine.rma)
        .where(AssistantReturn.order_number == order_number)
        .group_by(AssistantReturnLine.sku)
    ).all()
    return {str(sku): int(total) for sku, total in rows}


def new_rma() -> str:
    """A fresh RMA number, e.g. ``RMA-7K3Q9P2D``: random, so concurrent returns never clash."""
    return "RMA-" + "".join(secrets.choice(RMA_ALPHABET) for _ in range(8))


def record_return(
    session: Session,
    order: ReturnableOrder,
    items: Mapping[str, int],
    reason: str,
    *,
    customer_id: CustomerKey,
    today: date,
) -> tuple[str, date]:
    """Insert the RMA and its lines; return its number and the day the goods must arrive by."""
    rma = new_rma()
    valid_until = today + timedelta(days=returns_policy().rma_valid_days)
    session.add(
        AssistantReturn(
            rma=rma,
            order_number=order.order_number,
            customer=str(customer_id),
            reason=reason,
            created_at=datetime.now(UTC).replace(tzinfo=None),
            valid_until=valid_until,
        )
    )
    session.flush()
    for sku, quantity in items.items():
        session.add(AssistantReturnLine(rma=rma, sku=sku, quantity=quantity))
    return rma, valid_until
