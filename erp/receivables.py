"""Accounts receivable for finance staff: open balances by age, per customer, and how a
customer pays. Read-only, through the mapping in use (erp/schema.py).

What is open, due and late is :mod:`erp.invoices`' reading of an invoice
(:func:`erp.invoices.status_of`): the amount due is the total less what was paid; void and
fully paid invoices owe nothing. Amounts are as the ERP holds them now; ``today`` only
measures how far past its due date each balance is. Money in different currencies is never
added up: every total is per currency.

Example (the demo ERP as tests/erp seed it: scale 0.05, as of 2026-11-01):
    >>> report = ageing(today=date(2026, 11, 1), session=session)
    >>> [(b.currency, b.overdue, b.overdue_count) for b in report.balances]
    [('EUR', Decimal('4268.55'), 5), ('GBP', Decimal('3999.67'), 7)]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.orm import Session

from erp.access import CustomerKey
from erp.errors import RecordNotFound
from erp.invoices import (
    InvoiceStatus,
    invoice_schema,
    select_invoices,
    select_unpaid,
    status_of,
)
from erp.schema import MappedSchema, as_date

# Days past due: "current" is not yet due, then up to 30, 60, 90 days late, and older.
BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
_LAST_DAY = (0, 30, 60, 90)  # the most days past due each bucket but the oldest holds
_ZERO = Decimal("0.00")
_TENTH = Decimal("0.1")


def bucket_of(days_past_due: int) -> str:
    """The ageing bucket of a balance ``days_past_due`` days after its due date (0 or less:
    not yet due)."""
    for label, last in zip(BUCKETS, _LAST_DAY, strict=False):
        if days_past_due <= last:
            return label
    return BUCKETS[-1]


@dataclass(frozen=True)
class Bucket:
    """The open invoices of one age: how many, and what they still owe."""

    label: str
    count: int
    amount: Decimal


@dataclass(frozen=True)
class Balances:
    """What is owed in one currency, split by age (one :class:`Bucket` per label of BUCKETS,
    in that order)."""

    currency: str
    buckets: tuple[Bucket, ...]

    @property
    def total(self) -> Decimal:
        return sum((b.amount for b in self.buckets), _ZERO)

    @property
    def overdue(self) -> Decimal:
        """What is owed past its due date (every bucket but "current")."""
        return sum((b.amount for b in self.buckets[1:]), _ZERO)

    @property
    def count(self) -> int:
        return sum(b.count for b in self.buckets)

    @property
    def overdue_count(self) -> int:
        return sum(b.count for b in self.buckets[1:])

    def bucket(self, label: str) -> Bucket:
        """The bucket called ``label`` (one of BUCKETS)."""
        for found in self.buckets:
            if found.label == label:
                return found
        raise ValueError(f"label must be one of {', '.join(BUCKETS)}, got {label!r}")


@dataclass(frozen=True)
class Ageing:
    """Open balances by age as of ``today``: one :class:`Balances` per currency owed in,
    by currency code (none when nothing is owed)."""

    today: date
    balances: tuple[Balances, ...]

    @property
    def count(self) -> int:
        """Open invoices, in every currency."""
        return sum(b.count for b in self.balances)

    def counts(self) -> dict[str, int]:
        """Open invoices per bucket, in every currency (counts add up; amounts do not)."""
        return {
            label: sum(b.buckets[i].count for b in self.balances) for i, label in enumerate(BUCKETS)
        }

    def in_currency(self, currency: str) -> Balances:
        """The balances in ``currency``: all zero when nothing is owed in it."""
        for found in self.balances:
            if found.currency == currency:
                return found
        return _balances(currency, [])


@dataclass(frozen=True)
class CustomerAgeing:
    """One customer's open balances by age."""

    customer: CustomerKey
    name: str
    ageing: Ageing


@dataclass(frozen=True)
class OverdueInvoice:
    """An invoice with money owed past its due date, and whose it is."""

    customer: CustomerKey
    customer_name: str
    invoice: InvoiceStatus

    @property
    def bucket(self) -> str:
        return bucket_of(self.invoice.days_overdue)


@dataclass(frozen=True)
class PaymentBehaviour:
    """How a customer settled the invoices it has paid in full.

    An invoice is settled on the day of the payment that brought what was paid up to its
    total (the last payment, when its payments never add up to the total). Days late are
    that day less the due date, so a payment before the due date counts as negative days:
    an average of -3.5 means "pays three and a half days early on average".
    """

    paid_invoices: int  # paid in full, with a due date and at least one dated payment
    paid_late: int  # of those, settled after the due date
    average_days_late: Decimal | None  # one decimal; None when no paid invoice was measured


@dataclass(frozen=True)
class CustomerReceivables:
    """A customer's open invoices, their ageing, and how the customer pays."""

    customer: CustomerKey
    name: str
    ageing: Ageing
    open_invoices: list[InvoiceStatus]  # oldest due date first
    # None when the ERP keeps no payments against invoices: then nobody knows.
    payments: PaymentBehaviour | None


def ageing(*, today: date, session: Session) -> Ageing:
    """Every open balance of the ERP by days past due, per currency.

    Args:
        today: The day to age balances against.
        session: Open database session.

    Raises:
        NotKept: the ERP keeps no invoices.
    """
    schema = invoice_schema(session)
    return _ageing([s for _, s in _open_invoices(schema, session, today)], today)


def ageing_by_customer(
    *, today: date, limit: int, currency: str | None = None, session: Session
) -> list[CustomerAgeing]:
    """The ``limit`` customers owing most past their due dates, with their ageing.

    Customers are sorted by overdue amount, then by open amount. A customer owing in several
    currencies is placed by its largest overdue amount in any one of them (amounts are
    compared as they stand, never converted or added); pass ``currency`` to rank in that
    currency alone.

    Args:
        today: The day to age balances against.
        limit: How many customers at most.
        currency: Only invoices in this currency (e.g. "EUR").
        session: Open database session.

    Raises:
        ValueError: ``limit`` is not positive.
        NotKept: the ERP keeps no invoices.
    """
    _check_limit(limit)
    schema = invoice_schema(session)
    mine: dict[Any, list[InvoiceStatus]] = defaultdict(list)
    for customer, status in _open_invoices(schema, session, today):
        if currency is None or status.currency == currency:
            mine[customer].append(status)
    ranked = sorted(
        ((customer, _ageing(owed, today)) for customer, owed in mine.items()),
        key=lambda pair: _rank(pair[1], pair[0]),
    )[:limit]
    names = _names(schema, session, [customer for customer, _ in ranked])
    return [CustomerAgeing(c, names.get(c, ""), aged) for c, aged in ranked]


def top_overdue(
    *, today: date, limit: int = 10, currency: str | None = None, session: Session
) -> list[OverdueInvoice]:
    """The ``limit`` overdue invoices owing most (then the longest overdue), with their customers.

    Amounts in different currencies are compared as they stand (never converted); pass
    ``currency`` to rank in that currency alone.

    Raises:
        ValueError: ``limit`` is not positive.
        NotKept: the ERP keeps no invoices.
    """
    _check_limit(limit)
    schema = invoice_schema(session)
    overdue = [
        (customer, status)
        for customer, status in _open_invoices(schema, session, today)
        if status.days_overdue > 0 and (currency is None or status.currency == currency)
    ]
    overdue.sort(key=lambda p: (-p[1].amount_due, -p[1].days_overdue, p[1].invoice_number))
    overdue = overdue[:limit]
    names = _names(schema, session, [customer for customer, _ in overdue])
    return [OverdueInvoice(c, names.get(c, ""), status) for c, status in overdue]


def customer_receivables(
    customer_key: CustomerKey, *, today: date, session: Session
) -> CustomerReceivables:
    """One customer's open balance by age, and how it has paid.

    Args:
        customer_key: The customer's key as the ERP holds it (an id typed as text is
            accepted where the key is a number).
        today: The day to age balances against.
        session: Open database session.

    Raises:
        NotKept: the ERP keeps no invoices.
        RecordNotFound: no such customer.
    """
    schema = invoice_schema(session)
    key = schema.key("customer", "key", str(customer_key).strip())
    found = None
    if key is not None:
        found = session.execute(
            schema.select("customer", "key", "name").where(schema.c("customer", "key") == key)
        ).first()
    if found is None:
        raise RecordNotFound("customer", str(customer_key))
    rows = session.execute(
        select_invoices(schema).where(schema.c("invoice", "customer") == key)
    ).all()
    statuses = [(row, status_of(schema, row, today)) for row in rows]
    open_invoices = sorted(
        (s for _, s in statuses if _is_open(s)), key=lambda s: (s.due_date, s.invoice_number)
    )
    return CustomerReceivables(
        customer=key,
        name=str(found._mapping.get("name") or ""),
        ageing=_ageing(open_invoices, today),
        open_invoices=open_invoices,
        payments=_payment_behaviour(schema, session, key, statuses),
    )


def _check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a whole number greater than 0, got {limit!r}")


def _is_open(status: InvoiceStatus) -> bool:
    """Money is owed: not void or paid (an ERP without invoice statuses reads "" here, and is
    then judged by its amounts alone)."""
    return status.amount_due > 0 and status.status not in ("paid", "void")


def _open_invoices(
    schema: MappedSchema, session: Session, today: date
) -> list[tuple[Any, InvoiceStatus]]:
    """Every open invoice with its customer's key."""
    found = []
    for row in session.execute(select_unpaid(schema)):
        status = status_of(schema, row, today)
        if _is_open(status):
            found.append((row.customer, status))
    return found


def _balances(currency: str, invoices: Sequence[InvoiceStatus]) -> Balances:
    counts = dict.fromkeys(BUCKETS, 0)
    amounts = dict.fromkeys(BUCKETS, _ZERO)
    for invoice in invoices:
        label = bucket_of(invoice.days_overdue)
        counts[label] += 1
        amounts[label] += invoice.amount_due
    return Balances(currency, tuple(Bucket(b, counts[b], amounts[b]) for b in BUCKETS))


def _ageing(invoices: Iterable[InvoiceStatus], today: date) -> Ageing:
    by_currency: dict[str, list[InvoiceStatus]] = defaultdict(list)
    for invoice in invoices:
        by_currency[invoice.currency].append(invoice)
    return Ageing(today, tuple(_balances(c, by_currency[c]) for c in sorted(by_currency)))


def _rank(aged: Ageing, customer: Any) -> tuple[Decimal, Decimal, str]:
    overdue = max((b.overdue for b in aged.balances), default=_ZERO)
    owed = max((b.total for b in aged.balances), default=_ZERO)
    return (-overdue, -owed, str(customer))


def _names(schema: MappedSchema, session: Session, keys: Sequence[Any]) -> dict[Any, str]:
    if not keys:
        return {}
    rows = session.execute(
        schema.select("customer", "key", "name").where(schema.c("customer", "key").in_(keys))
    )
    return {row._mapping["key"]: str(row._mapping.get("name") or "") for row in rows}


def _payment_behaviour(
    schema: MappedSchema, session: Session, customer: Any, statuses: list[tuple[Any, InvoiceStatus]]
) -> PaymentBehaviour | None:
    """How the customer settled its fully paid invoices, from the payments against them;
    None when the ERP keeps no dated payments against invoices."""
    if not all(schema.has("payment", f) for f in ("invoice", "amount", "date")):
        return None
    mine = schema.select("invoice", "key").where(schema.c("invoice", "customer") == customer)
    payments: dict[Any, list[tuple[date, Decimal]]] = defaultdict(list)
    for row in session.execute(
        schema.select("payment", "invoice", "amount", "date").where(
            schema.c("payment", "invoice").in_(mine)
        )
    ):
        day = as_date(row._mapping["date"])
        if day is not None:  # an undated payment cannot date a settlement
            payments[row._mapping["invoice"]].append((day, Decimal(row._mapping["amount"])))
    days_late = []
    for row, status in statuses:
        due = as_date(row._mapping.get("due_date"))
        paid_in_full = status.status == "paid" or (status.status != "void" and not _is_open(status))
        made = payments.get(row._mapping["key"])
        if paid_in_full and due is not None and made:
            days_late.append((_settled_on(made, status.total) - due).days)
    if not days_late:
        return PaymentBehaviour(0, 0, None)
    average = (Decimal(sum(days_late)) / len(days_late)).quantize(_TENTH, ROUND_HALF_UP)
    return PaymentBehaviour(len(days_late), sum(1 for d in days_late if d > 0), average)


def _settled_on(payments: list[tuple[date, Decimal]], total: Decimal) -> date:
    """The day of the payment that brought the paid amount up to ``total``, else the last."""
    paid = _ZERO
    for day, amount in sorted(payments):
        paid += amount
        if paid >= total:
            return day
    return max(day for day, _ in payments)
