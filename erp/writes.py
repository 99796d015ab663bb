"""Changes the assistant makes in the ERP for a verified customer: one transaction each,
idempotent, on a connection of their own.

Every read the assistant makes stays on the read-only connection (erp/db.py ``get_engine``).
A write runs on ``ERP_WRITE_DATABASE_URL`` (for the demo ERP the same database by default),
through the mapping in use, and only where the mapping declares it (``writes:`` in
erp/mappings/*.yml); elsewhere :class:`WritesNotSupported` sends the request to a colleague.

Idempotency: each confirmation carries a key, claimed in the ``assistant_writes`` table in
the same transaction as the change. The same confirmation delivered twice (a retried webhook,
a double click) or twenty times at once changes the ERP once; every delivery after the first
gets the first one's outcome.

Example:
    >>> outcome = cancel_order("SO-100123", customer_id=42, key="k1", actor="customer")
    >>> outcome.done, outcome.repeated
    (True, False)
    >>> cancel_order("SO-100123", customer_id=42, key="k1", actor="customer").repeated
    True
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, event, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from erp.access import CustomerKey
from erp.addresses import Address
from erp.db import database_url, make_engine, session_scope, unavailable_on_failure
from erp.errors import AccessDenied, RecordNotFound, WritesNotSupported
from erp.models import AssistantReturn, AssistantReturnLine, AssistantWrite
from erp.orders import order_id
from erp.returns import already_returned, record_return, returnable_order, returns_policy
from erp.schema import DEFAULT_MAPPING, MappedSchema, current_spec, mapping_path, schema_for
from erp.settings import WRITE_DATABASE_URL

# Orders a customer may still cancel: nothing has been picked yet.
CANCELLABLE = ("pending", "confirmed")
# Orders whose delivery address may still change: not shipped yet.
READDRESSABLE = ("pending", "confirmed", "picking", "on_hold")
MAX_KEY_CHARS = 64


@dataclass(frozen=True)
class WriteOutcome:
    """What a confirmed change did.

    ``done``: the change is made (by this delivery or, ``repeated``, an earlier one of the
    same confirmation). Otherwise ``status`` says why not: the record's status in the
    assistant's words (an order already ``picking`` cannot be cancelled).
    """

    kind: str
    record: str
    done: bool
    status: str
    repeated: bool = False
    detail: str = ""


def write_url() -> str:
    """``ERP_WRITE_DATABASE_URL``; for the demo ERP without it, the ERP database itself.

    Raises:
        WritesNotSupported: another company's ERP with no write connection configured.
    """
    url = WRITE_DATABASE_URL.read(os.environ)
    if url:
        return url
    if mapping_path().resolve() == DEFAULT_MAPPING.resolve():
        return database_url()
    raise WritesNotSupported("write", f"{WRITE_DATABASE_URL.name} is not set")


def make_write_engine(url: str) -> Engine:
    """An engine for changes: on SQLite every transaction takes the write lock at its start
    (``BEGIN IMMEDIATE``), so concurrent changes queue behind each other instead of failing
    when one's snapshot went stale; servers lock the rows a change reads (``FOR UPDATE``)."""
    engine = make_engine(url, bounded=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@functools.cache
def get_write_engine() -> Engine:
    """The process's write engine, built on first use; the idempotency table is created
    there if missing (a database seeded before it existed)."""
    engine = make_write_engine(write_url())
    with unavailable_on_failure(engine):
        for table in (AssistantWrite, AssistantReturn, AssistantReturnLine):
            table.__table__.create(engine, checkfirst=True)  # type: ignore[attr-defined]
    return engine


def reset_write_engine() -> None:
    """Dispose of the write engine so the next write reads the settings again."""
    if get_write_engine.cache_info().currsize:
        get_write_engine().dispose()
    get_write_engine.cache_clear()


def require_write(kind: str) -> None:
    """Raise :class:`WritesNotSupported` unless the mapping in use declares ``kind``
    (checked before a customer is asked anything about the change)."""
    spec = current_spec()
    if kind not in spec.writes:
        raise WritesNotSupported(kind, f"{spec.name} lets the assistant make no such change")


def cancel_order(
    order_number: str,
    *,
    customer_id: CustomerKey,
    key: str,
    actor: str,
    engine: Engine | None = None,
) -> WriteOutcome:
    """Cancel the customer's order if it is still pending or confirmed, once per ``key``.

    Args:
        order_number: The order, in any form the ERP's parser accepts.
        customer_id: The verified customer (or, for staff, the order's owner).
        key: The confirmation's idempotency key.
        actor: Who confirmed it ("customer", or "staff:<id>"), recorded with the change.
        engine: The write engine (default :func:`get_write_engine`).

    Raises:
        WritesNotSupported: the mapping declares no cancellation.
        RecordNotFound / AccessDenied: no such order, or another customer's.
        ErpUnavailable: the database failed; nothing was changed.
    """
    return _once(
        "cancel_order",
        key=key,
        customer_id=customer_id,
        actor=actor,
        engine=engine,
        change=lambda session: _cancel(session, order_number, customer_id),
    )


def change_address(
    order_number: str,
    address: Address,
    *,
    customer_id: CustomerKey,
    key: str,
    actor: str,
    engine: Engine | None = None,
) -> WriteOutcome:
    """Send the customer's order to ``address`` if it has not shipped yet, once per ``key``.

    ``address`` is checked already (erp/addresses.py: the postcode in its country's format,
    a country the company delivers to). Raises like :func:`cancel_order`.
    """
    if address.country not in current_spec().delivers_to:
        raise WritesNotSupported("change_address", f"no deliveries to {address.country}")
    return _once(
        "change_address",
        key=key,
        customer_id=customer_id,
        actor=actor,
        engine=engine,
        change=lambda session: _readdress(session, order_number, customer_id, address),
    )


def request_return(
    order_number: str,
    items: Mapping[str, int],
    reason: str,
    *,
    customer_id: CustomerKey,
    key: str,
    actor: str,
    today: date,
    engine: Engine | None = None,
) -> WriteOutcome:
    """Authorise a return (RMA) of ``items`` (product key -> quantity) of a delivered order
    within the return window, once per ``key``.

    The outcome's ``detail`` is ``"<RMA number>|<ISO day the goods must arrive by>"``; not
    done, ``status`` is why: ``not_delivered``, ``window_passed`` or ``too_many`` (more than
    was ordered, or already under another RMA). Raises like :func:`cancel_order`.
    """
    if reason not in returns_policy().reasons:
        raise ValueError(f"no return reason {reason!r}")
    if not items or any(not isinstance(q, int) or q < 1 for q in items.values()):
        raise ValueError("a return needs at least one product and positive quantities")
    return _once(
        "request_return",
        key=key,
        customer_id=customer_id,
        actor=actor,
        engine=engine,
        change=lambda session: _return(session, order_number, items, reason, customer_id, today),
    )


def _return(
    session: Session,
    order_number: str,
    items: Mapping[str, int],
    reason: str,
    customer_id: CustomerKey,
    today: date,
) -> WriteOutcome:
    _, number, _, status = _locked_order(session, order_number, customer_id)
    order = returnable_order(
        number,
        customer_id=customer_id,
        today=today,
        session=session,
        returned=already_returned(number, session),
    )
    if order.refusal:
        return WriteOutcome("request_return", number, done=False, status=order.refusal)
    lines = {line.sku: line for line in order.lines}
    if any(sku not in lines or quantity > lines[sku].returnable for sku, quantity in items.items()):
        return WriteOutcome("request_return", number, done=False, status="too_many")
    rma, until = record_return(session, order, items, reason, customer_id=customer_id, today=today)
    return WriteOutcome(
        "request_return", number, done=True, status=status, detail=f"{rma}|{until.isoformat()}"
    )


def _once(
    kind: str,
    *,
    key: str,
    customer_id: CustomerKey,
    actor: str,
    engine: Engine | None,
    change: Callable[[Session], WriteOutcome],
) -> WriteOutcome:
    """Make ``change`` in one transaction with ``key`` claimed in it, unless an earlier
    delivery of the same confirmation did: then its outcome."""
    require_write(kind)
    if not key or len(key) > MAX_KEY_CHARS:
        raise ValueError("an idempotency key of 1 to 64 characters is required")
    engine = engine or get_write_engine()
    with unavailable_on_failure(engine), Session(engine) as session:
        schema_for(session)  # reflected once, outside (and before) any write transaction
    try:
        with session_scope(engine) as session:
            earlier = _earlier(session, key, customer_id)
            if earlier is not None:
                return earlier
            outcome = change(session)
            session.add(
                AssistantWrite(
                    key=key,
                    kind=kind,
                    record=outcome.record,
                    customer=str(customer_id),
                    actor=actor[:80],
                    outcome="done" if outcome.done else "refused",
                    detail=json.dumps(asdict(outcome)),
                    created_at=datetime.now(UTC).replace(tzinfo=None),
                )
            )
            session.flush()  # a concurrent delivery of the same key fails here, or at commit
        return outcome
    except IntegrityError:
        # Another delivery of this confirmation committed first: its outcome is the answer.
        with session_scope(engine) as session:
            earlier = _earlier(session, key, customer_id)
        if earlier is None:
            raise
        return earlier


def recorded_outcome(
    key: str, *, customer_id: CustomerKey, engine: Engine | None = None
) -> WriteOutcome | None:
    """The outcome recorded under a confirmation's key (for a "yes" that arrives again after
    the change was made); None when there is none."""
    if not key or len(key) > MAX_KEY_CHARS:
        return None
    with session_scope(engine or get_write_engine()) as session:
        return _earlier(session, key, customer_id)


def _earlier(session: Session, key: str, customer_id: CustomerKey) -> WriteOutcome | None:
    """The outcome an earlier delivery of this confirmation recorded, if any."""
    row = session.get(AssistantWrite, key)
    if row is None:
        return None
    if row.customer != str(customer_id):
        raise AccessDenied("confirmation", key, customer_id=customer_id)
    recorded: dict[str, Any] = json.loads(row.detail)
    return WriteOutcome(**{**recorded, "repeated": True})


def _locked_order(
    session: Session, order_number: str, customer_id: CustomerKey
) -> tuple[MappedSchema, str, Any, str]:
    """The order's schema, number, key as quoted and status meaning, its row locked.

    Raises:
        RecordNotFound / AccessDenied: no such order, or another customer's.
    """
    schema = schema_for(session)
    number = order_id(schema, order_number)
    field = schema.number_field("order")
    quoted = schema.key("order", field, number)
    query = select(schema.c("order", "customer"), schema.status_column("order")).where(
        schema.c("order", field) == quoted
    )
    row = session.execute(query.with_for_update()).first() if quoted is not None else None
    if row is None:
        raise RecordNotFound("order", number)
    if row[0] != customer_id:
        raise AccessDenied("order", number, customer_id=customer_id)
    return schema, number, quoted, schema.status_meaning("order", row[1])


def _readdress(
    session: Session, order_number: str, customer_id: CustomerKey, address: Address
) -> WriteOutcome:
    schema, number, quoted, status = _locked_order(session, order_number, customer_id)
    if status not in READDRESSABLE:
        return WriteOutcome("change_address", number, done=False, status=status)
    values = {
        schema.c("order", "delivery_street").key: address.street,
        schema.c("order", "delivery_postcode").key: address.postcode,
    }
    if schema.has("order", "delivery_country"):
        values[schema.c("order", "delivery_country").key] = address.country
    allowed = schema.raw_statuses("order", READDRESSABLE) or []
    changed = session.execute(
        update(schema.table("order"))
        .where(
            schema.c("order", schema.number_field("order")) == quoted,
            schema.status_column("order").in_(allowed),
        )
        .values(values)
    )
    if cast(CursorResult[Any], changed).rowcount != 1:
        return WriteOutcome("change_address", number, done=False, status="shipped")
    return WriteOutcome("change_address", number, done=True, status=status, detail=str(address))


def _cancel(session: Session, order_number: str, customer_id: CustomerKey) -> WriteOutcome:
    """Set the order's status to cancelled if it still may be; the status it has if not."""
    schema, number, quoted, status = _locked_order(session, order_number, customer_id)
    if status not in CANCELLABLE:
        return WriteOutcome("cancel_order", number, done=False, status=status)
    allowed = schema.raw_statuses("order", CANCELLABLE) or []
    cancelled = (schema.raw_statuses("order", ["cancelled"]) or [])[:1]
    if not cancelled:
        raise WritesNotSupported("cancel_order", "the mapping has no status meaning cancelled")
    status_column = schema.status_column("order")
    changed = session.execute(
        update(schema.table("order"))
        .where(
            schema.c("order", schema.number_field("order")) == quoted,
            status_column.in_(allowed),
        )
        .values({status_column.key: cancelled[0]})
    )
    if cast(CursorResult[Any], changed).rowcount != 1:
        # Changed under us since the read (a server without row locks): say it has moved on.
        return WriteOutcome("cancel_order", number, done=False, status="picking")
    return WriteOutcome("cancel_order", number, done=True, status="cancelled")
