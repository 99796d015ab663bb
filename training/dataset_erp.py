"""ERP questions for the training data: orders, invoices and stock read from a demo ERP.

The demo ERP is seeded into a temporary SQLite file with a fixed seed and a fixed "today",
so the records (and so the data set) are the same on any day. Records are read through the
same `erp` service functions the actions call and rendered with `models.erp_facts`.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from i18n.formatting import CURRENCY_SYMBOLS
from models.erp_facts import (
    amount,
    invoice_context,
    order_context,
    status_words,
    stock_context,
)
from models.examples import ContextItem
from training.questions import QA, casual, upper_first

if TYPE_CHECKING:
    from erp.inventory import StockReport
    from erp.invoices import InvoiceStatus
    from erp.orders import OrderStatus

# The demo ERP the data is read from: the same seed as `python -m demo seed`, and a fixed day
# so that order ages, due dates and incoming stock do not move with the calendar.
ERP_SEED = 42
ERP_TODAY = date(2026, 3, 16)


@dataclass(frozen=True)
class ErpRecords:
    """The records questions are asked about, and every product name in the catalogue."""

    orders: tuple[OrderStatus, ...]
    invoices: tuple[InvoiceStatus, ...]
    stock: tuple[StockReport, ...]
    product_names: frozenset[str]


def load_records(*, rng: random.Random, orders: int, invoices: int, products: int) -> ErpRecords:
    """Seed a temporary demo ERP and read a status-balanced sample of its records.

    Args:
        rng: Chooses which records are read.
        orders: How many orders to read (spread over every order status).
        invoices: How many invoices to read (spread over every invoice status).
        products: How many products' stock to read.

    Returns:
        The records, read with the ERP's own service functions as of :data:`ERP_TODAY`.
    """
    from sqlalchemy import select

    from demo.seed import seed
    from erp.db import make_engine, session_scope
    from erp.inventory import get_stock
    from erp.invoices import get_invoice_status
    from erp.models import INVOICE_STATUSES, ORDER_STATUSES, Invoice, Product, SalesOrder
    from erp.orders import get_order_status

    with tempfile.TemporaryDirectory(prefix="generator-erp-") as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'erp.db'}")
        try:
            seed(engine, rng_seed=ERP_SEED, today=ERP_TODAY, progress=False)
            with session_scope(engine) as session:
                order_rows = session.execute(
                    select(
                        SalesOrder.order_number, SalesOrder.customer_id, SalesOrder.status
                    ).order_by(SalesOrder.order_number)
                ).all()
                chosen_orders = _balanced(
                    [(r.status, (r.order_number, r.customer_id)) for r in order_rows],
                    ORDER_STATUSES,
                    orders,
                    rng,
                )
                order_records = tuple(
                    get_order_status(number, customer_id=owner, session=session)
                    for number, owner in chosen_orders
                )
                invoice_rows = session.execute(
                    select(Invoice.invoice_number, Invoice.customer_id, Invoice.status).order_by(
                        Invoice.invoice_number
                    )
                ).all()
                chosen_invoices = _balanced(
                    [(r.status, (r.invoice_number, r.customer_id)) for r in invoice_rows],
                    INVOICE_STATUSES,
                    invoices,
                    rng,
                )
                invoice_records = tuple(
                    get_invoice_status(number, customer_id=owner, today=ERP_TODAY, session=session)
                    for number, owner in chosen_invoices
                )
                catalogue = session.execute(
                    select(Product.sku, Product.name).order_by(Product.sku)
                ).all()
                skus = sorted(rng.sample([row.sku for row in catalogue], products))
                stock_records = tuple(
                    get_stock(sku, today=ERP_TODAY, session=session) for sku in skus
                )
                names = frozenset(row.name for row in catalogue)
        finally:
            engine.dispose()
    return ErpRecords(order_records, invoice_records, stock_records, names)


def _balanced(
    rows: list[tuple[str, tuple[str, int]]],
    statuses: Sequence[str],
    count: int,
    rng: random.Random,
) -> list[tuple[str, int]]:
    """About ``count`` rows, as evenly spread over ``statuses`` as the data allows."""
    by_status = {status: [key for s, key in rows if s == status] for status in statuses}
    chosen: list[tuple[str, int]] = []
    remaining = count
    for index, status in enumerate(sorted(statuses, key=lambda s: len(by_status[s]))):
        share = remaining // (len(statuses) - index)
        pool = by_status[status]
        picked = rng.sample(pool, min(share, len(pool)))
        chosen += picked
        remaining -= len(picked)
    return sorted(chosen)


# Wording -----------------------------------------------------------------------------------


def say_date(value: date | datetime, rng: random.Random) -> str:
    """A date the way a person writes it, in one of several formats."""
    day = value.date() if isinstance(value, datetime) else value
    style = rng.randrange(5)
    if style == 0:
        return day.isoformat()
    if style == 1:
        return f"{day.day} {day:%b %Y}"
    if style == 2:
        return f"{day.day} {day:%B %Y}"
    if style == 3:
        return f"{day:%A} {day.day} {day:%B %Y}"
    return f"{day:%B} {day.day}, {day.year}"


def say_money(value: Decimal, currency: str | None, rng: random.Random) -> str:
    """Money as £1,234.50, 1,234.50 GBP or GBP 1,234.50 (just the number without currency)."""
    if not currency:
        return amount(value)
    style = rng.randrange(3)
    symbol = CURRENCY_SYMBOLS.get(currency)
    if style == 0 and symbol:
        return f"{symbol}{value:,.2f}"
    if style == 1:
        return f"{currency} {value:,.2f}"
    return amount(value, currency)


def order_mention(number: str, rng: random.Random) -> str:
    """How a customer names an order: SO-100123, 100123, #100123, so100123."""
    digits = number.split("-", 1)[1]
    return rng.choice(
        (number, number, f"order {digits}", f"#{digits}", f"so{digits}", f"order no. {digits}")
    )


def invoice_mention(number: str, rng: random.Random) -> str:
    digits = number.split("-", 1)[1]
    return rng.choice((number, number, f"invoice {digits}", f"inv{digits}", f"invoice #{digits}"))


def product_mention(report: StockReport, rng: random.Random) -> tuple[str, str]:
    """How a customer names a product, with an article where it fits and without."""
    roll = rng.random()
    if roll < 0.25:
        return report.sku, report.sku
    if roll < 0.35:
        code = report.sku.replace("-", "").lower()
        return code, code
    if roll < 0.6:
        return report.name.lower(), report.name.lower()
    return f"the {report.name}", report.name


def _pick(rng: random.Random, *options: str) -> str:
    return rng.choice(options)


# Orders ------------------------------------------------------------------------------------

ORDER_QUESTIONS = {
    "status": (
        "Where is my order {o}?",
        "What's the status of {o}?",
        "Any update on {o}?",
        "Can you check {o} for me?",
        "Has {o} shipped yet?",
        "What is happening with {o}?",
        "{o} status please",
        "I'd like an update on my order {o}",
    ),
    "eta": (
        "When will {o} arrive?",
        "When should we expect {o}?",
        "What's the delivery date for {o}?",
        "When is {o} going to be delivered?",
        "How long until {o} gets here?",
    ),
    "tracking": (
        "Can I have the tracking number for {o}?",
        "Which courier is delivering {o}?",
        "How do I track {o}?",
        "Who is the carrier for {o}?",
        "Is there a tracking code for {o}?",
    ),
    "placed": (
        "When did we place {o} and how much was it?",
        "How much was {o}?",
        "What was the total of {o}?",
        "What date was {o} placed?",
    ),
}
_NOT_SHIPPED = ("pending", "confirmed", "picking", "on_hold")


def order_qas(orders: Sequence[OrderStatus], rng: random.Random, per_record: int) -> list[QA]:
    """Questions about each order, answered from its record."""
    qas: list[QA] = []
    for order in orders:
        item = order_context(order)
        intents = rng.sample(list(ORDER_QUESTIONS), min(per_record, len(ORDER_QUESTIONS)))
        for intent in intents:
            question = _order_question(intent, order.order_number, rng)
            answer, facts = _order_answer(intent, order, rng)
            qas.append(
                QA(question, answer, item, f"order-{intent}", item.ref, facts, core=item.text)
            )
    return qas


def _order_question(intent: str, number: str, rng: random.Random) -> str:
    template = rng.choice(ORDER_QUESTIONS[intent])
    text = template.format(o=order_mention(number, rng))
    text = text.replace("my order order", "my order").replace("order order", "order")
    return casual(upper_first(text), rng)


def _order_answer(
    intent: str, order: OrderStatus, rng: random.Random
) -> tuple[str, tuple[str, ...]]:
    n = order.order_number
    status = order.status
    words = "being picked and packed" if status == "picking" else status_words(status)
    shipment = order.shipment
    assert order.total is not None  # the demo ERP keeps every order's total
    if intent == "placed":
        total = say_money(order.total, order.currency, rng)
        placed = say_date(order.order_date, rng)
        lines = "line" if order.line_count == 1 else "lines"
        text = _pick(
            rng,
            f"You placed order {n} on {placed}; it came to {total} for {order.line_count} {lines}.",
            f"Order {n} was placed on {placed} and its total is {total}.",
            f"We received order {n} on {placed}. The order total is {total}.",
        )
        return text, (iso_fact(order.order_date), amount(order.total, order.currency))
    if shipment is None or status in _NOT_SHIPPED:
        return _unshipped_answer(intent, n, status, words, rng), (words,)
    if intent == "tracking":
        text = _pick(
            rng,
            f"Order {n} is with {shipment.carrier}; the tracking number is "
            f"{shipment.tracking_number}.",
            f"You can track order {n} with {shipment.carrier} using tracking number "
            f"{shipment.tracking_number}.",
            f"{shipment.carrier} is delivering order {n}. Tracking number: "
            f"{shipment.tracking_number}.",
        )
        return text, (shipment.carrier, shipment.tracking_number)
    if shipment.delivered_at is not None:
        delivered = say_date(shipment.delivered_at, rng)
        text = _pick(
            rng,
            f"Your order {n} was delivered on {delivered} by {shipment.carrier} "
            f"(tracking number {shipment.tracking_number}).",
            f"Good news: order {n} has already been delivered, on {delivered}.",
            f"Order {n} is delivered — {shipment.carrier} delivered it on {delivered}.",
        )
        return text, (iso_fact(shipment.delivered_at),)
    assert shipment.estimated_delivery is not None  # the demo ERP estimates every delivery
    shipped = say_date(shipment.shipped_at, rng)
    eta = say_date(shipment.estimated_delivery, rng)
    if intent == "eta":
        text = _pick(
            rng,
            f"Order {n} is on its way with {shipment.carrier} and should arrive on {eta}.",
            f"The estimated delivery date for order {n} is {eta}. It shipped on {shipped} "
            f"with {shipment.carrier}.",
            f"We expect order {n} to be delivered on {eta}.",
        )
        return text, (iso_fact(shipment.estimated_delivery),)
    text = _pick(
        rng,
        f"Your order {n} has shipped. It left us on {shipped} with {shipment.carrier} "
        f"(tracking number {shipment.tracking_number}) and should arrive on {eta}.",
        f"Order {n} is on its way: it shipped on {shipped} with {shipment.carrier}, tracking "
        f"number {shipment.tracking_number}, estimated delivery {eta}.",
        f"Good news — order {n} has shipped with {shipment.carrier}. The estimated delivery "
        f"date is {eta}.",
    )
    return text, ("shipped", iso_fact(shipment.estimated_delivery))


def _unshipped_answer(intent: str, n: str, status: str, words: str, rng: random.Random) -> str:
    if status == "cancelled":
        return _pick(
            rng,
            f"Order {n} was cancelled, so it will not be shipped.",
            f"Your order {n} is cancelled and will not be shipped.",
        )
    meaning = {
        "pending": "we have received it and will confirm it shortly",
        "confirmed": "it is accepted and waiting to be picked in the warehouse",
        "picking": "it is in the warehouse and has not shipped yet",
        "on_hold": "a colleague will contact you about it",
    }[status]
    if intent == "status":
        return _pick(
            rng,
            f"Your order {n} is {words}: {meaning}.",
            f"Order {n} is {words} at the moment — {meaning}.",
        )
    missing = {"eta": "estimated delivery date", "tracking": "tracking number"}[intent]
    return _pick(
        rng,
        f"Order {n} hasn't shipped yet (it is {words}), so there is no {missing} yet.",
        f"There is no {missing} for order {n} yet: it is {words} and has not shipped.",
    )


def iso_fact(value: date | datetime) -> str:
    """A date as a fact string (ISO), whatever format the answer uses."""
    return (value.date() if isinstance(value, datetime) else value).isoformat()


# Invoices ----------------------------------------------------------------------------------

INVOICE_QUESTIONS = {
    "balance": (
        "How much do I still owe on {i}?",
        "What's outstanding on {i}?",
        "What is the balance of {i}?",
        "How much is left to pay on {i}?",
    ),
    "due": (
        "When is {i} due?",
        "What's the due date on {i}?",
        "By when do we have to pay {i}?",
    ),
    "status": (
        "Is {i} paid?",
        "What's the status of {i}?",
        "Has {i} been paid?",
        "Is {i} overdue?",
    ),
    "total": (
        "What was the total on {i}?",
        "How much was {i} for?",
        "What's the invoice total of {i}?",
    ),
}


def invoice_qas(invoices: Sequence[InvoiceStatus], rng: random.Random, per_record: int) -> list[QA]:
    """Questions about each invoice, answered from its record."""
    qas: list[QA] = []
    for invoice in invoices:
        item = invoice_context(invoice)
        intents = rng.sample(list(INVOICE_QUESTIONS), min(per_record, len(INVOICE_QUESTIONS)))
        for intent in intents:
            template = rng.choice(INVOICE_QUESTIONS[intent])
            question = template.format(i=invoice_mention(invoice.invoice_number, rng))
            question = casual(upper_first(question.replace("invoice invoice", "invoice")), rng)
            answer, facts = _invoice_answer(intent, invoice, rng)
            qas.append(
                QA(question, answer, item, f"invoice-{intent}", item.ref, facts, core=item.text)
            )
    return qas


def _invoice_answer(
    intent: str, invoice: InvoiceStatus, rng: random.Random
) -> tuple[str, tuple[str, ...]]:
    n = invoice.invoice_number
    cur = invoice.currency

    def money(value: Decimal) -> str:
        return say_money(value, cur, rng)

    total, due_amount, paid = (
        money(invoice.total),
        money(invoice.amount_due),
        money(invoice.amount_paid),
    )
    due = say_date(invoice.due_date, rng)
    status = invoice.status
    if intent == "total":
        text = _pick(
            rng,
            f"Invoice {n} was for {total} in total (for order {invoice.order_number}).",
            f"The total of invoice {n} is {total}.",
        )
        return text, (amount(invoice.total, cur),)
    if status == "void":
        text = _pick(
            rng,
            f"Invoice {n} is void, so nothing is due on it.",
            f"Invoice {n} is void: there is nothing to pay.",
        )
        return text, ("void",)
    if status == "paid":
        text = _pick(
            rng,
            f"Invoice {n} is paid in full ({paid} paid), so nothing is due.",
            f"Yes — invoice {n} has been paid in full; there is nothing left to pay.",
        )
        return text, ("paid",)
    if intent == "due":
        late = invoice.days_overdue
        text = _pick(
            rng,
            f"Invoice {n} is due on {due}.",
            f"The due date of invoice {n} is {due}; {due_amount} is still to pay.",
        )
        if late:
            text += f" It is now {late} days overdue."
        return text, (iso_fact(invoice.due_date),)
    facts: tuple[str, ...] = (amount(invoice.amount_due, cur),)
    if status == "overdue":
        text = _pick(
            rng,
            f"Invoice {n} is overdue: {due_amount} is still due. It was due on {due}, "
            f"{invoice.days_overdue} days ago.",
            f"Invoice {n} is {invoice.days_overdue} days overdue, with {due_amount} "
            f"outstanding (due date {due}).",
        )
        return text, (*facts, str(invoice.days_overdue))
    if status == "partially_paid":
        text = _pick(
            rng,
            f"Invoice {n} is partially paid: {paid} has been paid and {due_amount} is still "
            f"due, by {due}.",
            f"You have paid {paid} of the {total} on invoice {n}; {due_amount} is left to pay.",
        )
        if invoice.days_overdue:
            text += f" The due date ({due}) has passed by {invoice.days_overdue} days."
        return text, facts
    text = _pick(
        rng,
        f"Invoice {n} is open: {due_amount} is due by {due}.",
        f"Invoice {n} hasn't been paid yet, but it isn't due until {due}. The amount due is "
        f"{due_amount}.",
    )
    return text, facts


# Stock -------------------------------------------------------------------------------------

STOCK_QUESTIONS = {
    "availability": (
        "Is {p} in stock?",
        "Do you have {p} in stock?",
        "How many {n} do you have?",
        "Stock check on {p} please",
        "Can I get {p} at the moment?",
        "What's the availability of {p}?",
    ),
    "warehouse": (
        "Do you have {p} in {city}?",
        "How many {n} are there in the {city} warehouse?",
        "Is {p} available in {city}?",
    ),
    "restock": (
        "When will {p} be back in stock?",
        "When is the next delivery of {p}?",
        "When are you getting more {n}?",
    ),
    "price": (
        "How much is {p}?",
        "What does {p} cost?",
        "What's the unit price of {p}?",
    ),
}


def stock_qas(reports: Sequence[StockReport], rng: random.Random, per_record: int) -> list[QA]:
    """Questions about each product's stock, answered from its record."""
    qas: list[QA] = []
    for report in reports:
        item = stock_context(report)
        intents = rng.sample(list(STOCK_QUESTIONS), min(per_record, len(STOCK_QUESTIONS)))
        for intent in intents:
            question, answer, facts = _stock_question(intent, report, rng)
            qas.append(QA(question, answer, item, f"stock-{intent}", item.ref, facts, item.text))
    return qas


def _stock_question(
    intent: str, report: StockReport, rng: random.Random
) -> tuple[str, str, tuple[str, ...]]:
    name = f"{report.name} ({report.sku})"
    warehouse = rng.choice(report.warehouses) if report.warehouses else None
    city = warehouse.city if warehouse else ""
    template = rng.choice(STOCK_QUESTIONS[intent])
    with_article, bare = product_mention(report, rng)
    question = casual(upper_first(template.format(p=with_article, n=bare, city=city)), rng)
    incoming = report.next_incoming
    if incoming is None:
        next_delivery = "No delivery is scheduled yet."
        next_facts: tuple[str, ...] = ()
    else:
        assert incoming.eta is not None  # the demo ERP's purchase orders have a date
        eta = say_date(incoming.eta, rng)
        next_delivery = _pick(
            rng,
            f"The next delivery is {incoming.quantity} units, due on {eta} at "
            f"{incoming.warehouse_name}.",
            f"{incoming.quantity} more are due on {eta} ({incoming.warehouse_name}).",
        )
        next_facts = (iso_fact(incoming.eta), str(incoming.quantity))
    if intent == "price":
        text = _pick(
            rng,
            f"The {name} is {amount(report.unit_price)} each, before VAT.",
            f"{name}: the unit price is {amount(report.unit_price)} before VAT.",
        )
        return question, text, (amount(report.unit_price),)
    if intent == "warehouse" and warehouse is not None:
        if warehouse.available > 0:
            text = (
                f"Yes — {warehouse.warehouse_name} in {city} has {warehouse.available} "
                f"{report.name} ({report.sku}) available."
            )
            return question, text, (str(warehouse.available),)
        others = [w for w in report.warehouses if w.available > 0]
        text = f"No — {warehouse.warehouse_name} in {city} has no {name} available right now."
        if others:
            best = max(others, key=lambda w: w.available)
            text += f" {best.warehouse_name} has {best.available}."
            return question, text, (str(best.available),)
        return question, f"{text} {next_delivery}", next_facts
    if report.total_available > 0 and intent != "restock":
        where = ", ".join(
            f"{w.available} in {w.city}" for w in report.warehouses if w.available > 0
        )
        text = _pick(
            rng,
            f"Yes — we have {report.total_available} {name} available: {where}.",
            f"The {name} is in stock: {report.total_available} available ({where}).",
        )
        return question, text, (str(report.total_available),)
    if report.total_available > 0:
        text = f"The {name} is in stock now: {report.total_available} available." + (
            "" if incoming is None else f" {next_delivery}"
        )
        return question, text, (str(report.total_available), *next_facts)
    text = f"The {name} is out of stock in all our warehouses at the moment. {next_delivery}"
    return question, text, next_facts or ("out of stock",)


# Refusals ----------------------------------------------------------------------------------


def wrong_record_qas(
    qas: Sequence[QA], pool: Sequence[ContextItem], rng: random.Random
) -> list[QA]:
    """The questions with their record swapped for others of its kind from ``pool``.

    Nothing in the new context answers them. Stock questions get the products with the
    most similar names, same category first ("X200 Controller" for "X200 Motor
    Controller"), the hardest records to tell apart.
    """
    by_kind: dict[str, list[ContextItem]] = {}
    for item in pool:
        by_kind.setdefault(item.ref.split(":")[1], []).append(item)
    result: list[QA] = []
    for qa in qas:
        kind = qa.item.ref.split(":")[1]
        others = [i for i in by_kind.get(kind, []) if i.ref != qa.item.ref]
        if not others:
            continue
        if kind == "stock":
            others.sort(key=_name_similarity(qa.item), reverse=True)
            wrong = others[: rng.randint(1, 2)]
        else:
            wrong = rng.sample(others, min(len(others), rng.randint(1, 2)))
        result.append(QA(qa.question, "", qa.item, qa.origin, qa.group, negatives=tuple(wrong)))
    return result


def _name_similarity(item: ContextItem) -> Callable[[ContextItem], tuple[float, str]]:
    from rapidfuzz import fuzz

    name = item.text.split("\n", 1)[0]
    prefix = item.ref.rsplit("-", 1)[0]

    def similarity(other: ContextItem) -> tuple[float, str]:
        same_category = other.ref.rsplit("-", 1)[0] == prefix
        score = fuzz.token_set_ratio(name, other.text.split("\n", 1)[0])
        return (score + (100 if same_category else 0), other.ref)

    return similarity
