"""Accounts receivable: ageing, customers and invoices owing most, a customer's payment habits.

Checked against a plain computation over the seeded rows (erp.models, no mapping), and on
small hand-made invoices with known answers; the session rolls them back after each test.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from erp.errors import NotKept, RecordNotFound
from erp.models import Customer, Invoice, Payment, SalesOrder
from erp.receivables import (
    BUCKETS,
    Ageing,
    ageing,
    ageing_by_customer,
    bucket_of,
    customer_receivables,
    top_overdue,
)
from erp.schema import forget_schemas
from tests.erp.conftest import SEED_TODAY
from tests.erp.test_mapped_erps import mapped_session
from tests.erp.test_mapping_check import MAPPINGS, NORTHWIND, need

# The seed's own day, and later ones: 60 days on, every bucket holds seeded invoices.
TODAYS = [SEED_TODAY, SEED_TODAY + timedelta(days=30), SEED_TODAY + timedelta(days=60)]
TODAY_IDS = ["seed-day", "30-days-on", "60-days-on"]
UNPAID = ("open", "overdue", "partially_paid")
ZERO = Decimal("0.00")

Table = dict[str, dict[str, tuple[int, Decimal]]]  # currency -> bucket -> (count, amount)
AddInvoice = Callable[..., Invoice]


# An independent reading of the seeded rows ------------------------------------------------


def _label(days_past_due: int) -> str:
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "1-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    return "90+"


def _open_rows(session: Session) -> list[Invoice]:
    rows = session.scalars(select(Invoice).where(Invoice.status.in_(UNPAID))).all()
    return [i for i in rows if i.total - i.amount_paid > 0]


def _table(invoices: list[Invoice], today: date) -> Table:
    table: Table = {}
    for invoice in invoices:
        buckets = table.setdefault(invoice.currency, {b: (0, ZERO) for b in BUCKETS})
        label = _label((today - invoice.due_date).days)
        count, amount = buckets[label]
        buckets[label] = (count + 1, amount + invoice.total - invoice.amount_paid)
    return table


def _as_table(report: Ageing) -> Table:
    return {
        b.currency: {bucket.label: (bucket.count, bucket.amount) for bucket in b.buckets}
        for b in report.balances
    }


def _overdue(buckets: dict[str, tuple[int, Decimal]]) -> Decimal:
    return sum((amount for label, (_, amount) in buckets.items() if label != "current"), ZERO)


def _settled_on(invoice: Invoice, payments: list[Payment]) -> date:
    paid = ZERO
    for payment in sorted(payments, key=lambda p: p.paid_at):
        paid += payment.amount
        if paid >= invoice.total:
            return payment.paid_at.date()
    return max(p.paid_at for p in payments).date()


def _habits(session: Session, customer_id: int) -> tuple[int, int, Decimal | None]:
    invoices = session.scalars(select(Invoice).where(Invoice.customer_id == customer_id)).all()
    days = []
    for invoice in invoices:
        if invoice.status == "void" or invoice.amount_paid < invoice.total:
            continue
        payments = session.scalars(
            select(Payment).where(Payment.invoice_number == invoice.invoice_number)
        ).all()
        if payments:
            days.append((_settled_on(invoice, list(payments)) - invoice.due_date).days)
    if not days:
        return 0, 0, None
    average = (Decimal(sum(days)) / len(days)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return len(days), sum(d > 0 for d in days), average


# Against the seeded rows ------------------------------------------------------------------


@pytest.mark.parametrize("today", TODAYS, ids=TODAY_IDS)
def test_ageing_matches_a_plain_sum_of_the_seeded_open_invoices(
    session: Session, today: date
) -> None:
    expected = _table(_open_rows(session), today)

    report = ageing(today=today, session=session)

    assert _as_table(report) == expected
    assert sorted(expected) == ["EUR", "GBP"]  # two currencies, kept apart
    assert report.count == sum(c for buckets in expected.values() for c, _ in buckets.values())
    assert report.counts() == {b: sum(expected[c][b][0] for c in expected) for b in BUCKETS}
    for balances in report.balances:
        assert balances.overdue == _overdue(expected[balances.currency])


def test_a_later_day_fills_every_bucket(session: Session) -> None:
    counts = ageing(today=TODAYS[2], session=session).counts()
    assert all(counts[b] > 0 for b in BUCKETS), counts


@pytest.mark.parametrize("today", TODAYS, ids=TODAY_IDS)
def test_customers_are_ranked_by_what_they_owe_past_due(session: Session, today: date) -> None:
    per_customer: dict[int, list[Invoice]] = defaultdict(list)
    for invoice in _open_rows(session):
        per_customer[invoice.customer_id].append(invoice)
    tables = {c: _table(invoices, today) for c, invoices in per_customer.items()}

    def rank(customer: int) -> tuple[Decimal, Decimal, str]:
        table = tables[customer]
        overdue = max(_overdue(buckets) for buckets in table.values())
        owed = max(sum((a for _, a in b.values()), ZERO) for b in table.values())
        return -overdue, -owed, str(customer)

    expected = sorted(tables, key=rank)
    names = {c.id: c.name for c in session.scalars(select(Customer))}

    ranked = ageing_by_customer(today=today, limit=len(expected) + 5, session=session)

    assert [r.customer for r in ranked] == expected
    assert [r.name for r in ranked] == [names[c] for c in expected]
    assert all(_as_table(r.ageing) == tables[int(r.customer)] for r in ranked)
    top_three = ageing_by_customer(today=today, limit=3, session=session)
    assert [r.customer for r in top_three] == expected[:3]


def test_customers_can_be_ranked_in_one_currency(session: Session) -> None:
    ranked = ageing_by_customer(today=TODAYS[1], limit=1000, currency="EUR", session=session)
    euro_customers = {i.customer_id for i in _open_rows(session) if i.currency == "EUR"}
    assert {r.customer for r in ranked} == euro_customers
    assert all([b.currency for b in r.ageing.balances] == ["EUR"] for r in ranked)
    overdue = [r.ageing.in_currency("EUR").overdue for r in ranked]
    assert overdue == sorted(overdue, reverse=True)


@pytest.mark.parametrize("today", TODAYS, ids=TODAY_IDS)
def test_top_overdue_are_the_largest_overdue_balances(session: Session, today: date) -> None:
    late = [i for i in _open_rows(session) if i.due_date < today]
    late.sort(
        key=lambda i: (-(i.total - i.amount_paid), -(today - i.due_date).days, i.invoice_number)
    )
    expected = [(i.invoice_number, i.customer_id, i.total - i.amount_paid) for i in late[:10]]

    top = top_overdue(today=today, session=session)

    assert [(t.invoice.invoice_number, t.customer, t.invoice.amount_due) for t in top] == expected
    assert all(t.bucket == _label(t.invoice.days_overdue) != "current" for t in top)
    assert all(t.customer_name for t in top)
    assert len(top_overdue(today=today, limit=2, session=session)) == 2


def test_every_customer_s_payment_habits_match_their_payments(session: Session) -> None:
    customers = session.scalars(select(Customer.id).order_by(Customer.id)).all()
    found = {
        c: customer_receivables(c, today=SEED_TODAY, session=session).payments for c in customers
    }
    expected = {c: _habits(session, c) for c in customers}

    assert {
        c: (p.paid_invoices, p.paid_late, p.average_days_late) if p else None
        for c, p in found.items()
    } == expected
    # The seed has both habits, so the comparison above means something.
    assert any(late > 0 for _, late, _ in expected.values())
    assert any(avg is not None and avg < 0 for _, _, avg in expected.values())


def test_a_customer_s_open_invoices_are_its_share_of_the_ageing(session: Session) -> None:
    customer = session.scalars(
        select(Invoice.customer_id).where(Invoice.status == "overdue").order_by(Invoice.due_date)
    ).first()
    assert customer is not None
    mine = [i for i in _open_rows(session) if i.customer_id == customer]

    found = customer_receivables(str(customer), today=SEED_TODAY, session=session)  # typed as text

    assert found.customer == customer
    assert _as_table(found.ageing) == _table(mine, SEED_TODAY)
    assert [i.invoice_number for i in found.open_invoices] == [
        i.invoice_number for i in sorted(mine, key=lambda i: (i.due_date, i.invoice_number))
    ]


# Small hand-made cases --------------------------------------------------------------------


@pytest.fixture
def new_customer(session: Session) -> Customer:
    customer = Customer(
        name="Hand Made Ltd", email="ar-test@handmade.example", postcode="AB1 2CD", phone="0100"
    )
    session.add(customer)
    session.flush()
    return customer


@pytest.fixture
def add_invoice(session: Session, new_customer: Customer) -> Iterator[AddInvoice]:
    order = session.scalars(select(SalesOrder.order_number).limit(1)).one()
    numbers = iter(range(900_001, 999_999))

    def add(
        due_days_ago: int,
        total: str,
        *,
        paid: str = "0.00",
        status: str = "open",
        currency: str = "GBP",
        payments: tuple[tuple[int, str], ...] = (),  # (days after the due date, amount)
    ) -> Invoice:
        due = SEED_TODAY - timedelta(days=due_days_ago)
        invoice = Invoice(
            invoice_number=f"INV-{next(numbers)}",
            order_number=order,
            customer_id=new_customer.id,
            status=status,
            issue_date=due - timedelta(days=30),
            due_date=due,
            total=Decimal(total),
            amount_paid=Decimal(paid),
            currency=currency,
        )
        session.add(invoice)
        session.flush()
        for after, amount in payments:
            session.add(
                Payment(
                    invoice_number=invoice.invoice_number,
                    amount=Decimal(amount),
                    paid_at=datetime.combine(due + timedelta(days=after), time(10)),
                    method="card",
                )
            )
        session.flush()
        return invoice

    yield add


@pytest.mark.parametrize(
    ("days", "label"),
    [(-5, "current"), (0, "current"), (1, "1-30"), (30, "1-30"), (31, "31-60"),
     (60, "31-60"), (61, "61-90"), (90, "61-90"), (91, "90+"), (400, "90+")],
)  # fmt: skip
def test_bucket_edges(days: int, label: str) -> None:
    assert bucket_of(days) == label


def test_hand_made_invoices_land_in_their_buckets(
    session: Session, new_customer: Customer, add_invoice: AddInvoice
) -> None:
    before = _as_table(ageing(today=SEED_TODAY, session=session))
    add_invoice(1, "100.00")  # due yesterday
    add_invoice(91, "200.00", status="overdue")
    add_invoice(45, "300.00", paid="120.00", status="partially_paid")  # owes the rest
    add_invoice(0, "40.00")  # due today: not late yet
    add_invoice(70, "500.00", status="void")
    add_invoice(70, "400.00", paid="400.00", status="paid")
    add_invoice(-3, "50.00", currency="EUR")

    after = _as_table(ageing(today=SEED_TODAY, session=session))
    mine = customer_receivables(new_customer.id, today=SEED_TODAY, session=session)

    added = {
        currency: {
            b: (after[currency][b][0] - before[currency][b][0],
                after[currency][b][1] - before[currency][b][1])
            for b in BUCKETS
        }
        for currency in after
    }  # fmt: skip
    none = (0, ZERO)
    assert added["GBP"] == {"current": (1, Decimal("40.00")), "1-30": (1, Decimal("100.00")),
                            "31-60": (1, Decimal("180.00")), "61-90": none,
                            "90+": (1, Decimal("200.00"))}  # fmt: skip
    assert added["EUR"] == {"current": (1, Decimal("50.00")), "1-30": none, "31-60": none,
                            "61-90": none, "90+": none}  # fmt: skip
    assert _as_table(mine.ageing) == added
    gbp, eur = mine.ageing.in_currency("GBP"), mine.ageing.in_currency("EUR")
    assert (gbp.total, gbp.overdue, gbp.count, gbp.overdue_count) == (
        Decimal("520.00"), Decimal("480.00"), 4, 3
    )  # fmt: skip
    assert (eur.total, eur.overdue) == (Decimal("50.00"), ZERO)  # not summed with GBP
    assert mine.ageing.counts() == {"current": 2, "1-30": 1, "31-60": 1, "61-90": 0, "90+": 1}
    assert [i.days_overdue for i in mine.open_invoices] == [91, 45, 1, 0, 0]


def test_the_hand_made_customer_tops_the_lists_when_owing_most(
    session: Session, new_customer: Customer, add_invoice: AddInvoice
) -> None:
    big = add_invoice(10, "999999.00")
    add_invoice(-10, "888888.00")  # not due: never in the overdue list

    [first] = ageing_by_customer(today=SEED_TODAY, limit=1, session=session)
    top = top_overdue(today=SEED_TODAY, limit=3, session=session)

    assert (first.customer, first.name) == (new_customer.id, "Hand Made Ltd")
    assert first.ageing.in_currency("GBP").overdue == Decimal("999999.00")
    assert top[0].invoice.invoice_number == big.invoice_number and top[0].bucket == "1-30"
    assert all(t.invoice.amount_due != Decimal("888888.00") for t in top)


def test_payment_habits_count_the_payment_that_settled_each_invoice(
    session: Session, new_customer: Customer, add_invoice: AddInvoice
) -> None:
    # Half 10 days early, the rest 5 days late: settled 5 days late.
    add_invoice(100, "200.00", paid="200.00", status="paid",
                payments=((-10, "100.00"), (5, "100.00")))  # fmt: skip
    # Settled 3 days early; a payment after it was settled does not move that day.
    add_invoice(100, "90.00", paid="90.00", status="paid", payments=((-3, "90.00"), (20, "1.00")))
    # Payments short of the total although marked paid: the last one counts (12 days late).
    add_invoice(100, "80.00", paid="80.00", status="paid", payments=((2, "30.00"), (12, "40.00")))
    # Open, void, or paid with no payment on record: no settlement to measure.
    add_invoice(100, "70.00", status="overdue", payments=())
    add_invoice(100, "60.00", paid="60.00", status="paid")

    habits = customer_receivables(new_customer.id, today=SEED_TODAY, session=session).payments

    assert habits is not None
    assert (habits.paid_invoices, habits.paid_late) == (3, 2)
    assert habits.average_days_late == Decimal("4.7")  # (5 - 3 + 12) / 3


def test_a_customer_without_invoices_owes_nothing_and_has_no_habits(
    session: Session, new_customer: Customer
) -> None:
    found = customer_receivables(new_customer.id, today=SEED_TODAY, session=session)
    assert (found.name, found.ageing.balances, found.open_invoices) == ("Hand Made Ltd", (), [])
    assert found.payments is not None and found.payments.average_days_late is None
    assert found.ageing.in_currency("GBP").total == ZERO


def test_an_unknown_customer_is_not_found(session: Session) -> None:
    with pytest.raises(RecordNotFound, match="no customer 999999"):
        customer_receivables(999_999, today=SEED_TODAY, session=session)
    with pytest.raises(RecordNotFound, match="no customer abc"):
        customer_receivables("abc", today=SEED_TODAY, session=session)


@pytest.mark.parametrize("limit", [0, -1, True], ids=["zero", "negative", "bool"])
def test_a_limit_must_be_positive(session: Session, limit: int) -> None:
    with pytest.raises(ValueError, match="limit must be"):
        top_overdue(today=SEED_TODAY, limit=limit, session=session)
    with pytest.raises(ValueError, match="limit must be"):
        ageing_by_customer(today=SEED_TODAY, limit=limit, session=session)


# Other mappings ---------------------------------------------------------------------------


def test_without_payments_on_record_habits_are_unknown(
    session: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    demo = (MAPPINGS / "demo.yml").read_text()
    start = demo.index("  payment:\n")
    mapping = tmp_path / "demo-no-payments.yml"
    mapping.write_text(demo[:start] + "  payment: {missing: payments are kept elsewhere}\n")
    customer = session.scalars(select(Invoice.customer_id).where(Invoice.status == "paid")).first()
    assert customer is not None
    with_payments = customer_receivables(customer, today=SEED_TODAY, session=session)
    monkeypatch.setenv("ERP_MAPPING", str(mapping))
    forget_schemas()  # a process reads its mapping once: switching it is forgetting the schemas
    try:
        found = customer_receivables(customer, today=SEED_TODAY, session=session)
    finally:
        forget_schemas()
    assert with_payments.payments is not None and found.payments is None
    assert found.ageing == with_payments.ageing


@pytest.fixture
def northwind(monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    yield from mapped_session(monkeypatch, "northwind.yml", f"sqlite:///{need(NORTHWIND)}")


def test_an_erp_without_invoices_says_so(northwind: Session) -> None:
    calls = {
        "ageing": lambda: ageing(today=SEED_TODAY, session=northwind),
        "by customer": lambda: ageing_by_customer(today=SEED_TODAY, limit=5, session=northwind),
        "top overdue": lambda: top_overdue(today=SEED_TODAY, session=northwind),
        "customer": lambda: customer_receivables("ALFKI", today=SEED_TODAY, session=northwind),
    }
    for name, call in calls.items():
        with pytest.raises(NotKept, match="keeps no invoices") as raised:
            call()
        assert raised.value.concept == "invoice", name
