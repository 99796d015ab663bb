"""The demo data is deterministic, full-sized at scale 1.0, and internally consistent."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from demo.seed import seed, seed_sizes
from erp.db import make_engine
from erp.models import (
    INVOICE_STATUSES,
    ORDER_STATUSES,
    Base,
    Customer,
    Invoice,
    OrderLine,
    Payment,
    Product,
    PurchaseOrder,
    SalesOrder,
    Shipment,
    StockLevel,
    Warehouse,
)
from tests.erp.conftest import SEED_SCALE, SEED_TODAY

TRACKING_FORMATS = {
    "DHL": r"\d{10}",
    "UPS": r"1Z[A-Z0-9]{6}\d{10}",
    "DPD": r"\d{14}",
    "FedEx": r"\d{12}",
    "Royal Mail": r"[A-Z]{2}\d{9}GB",
}


def _dump(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as connection:
        return {
            table.name: [
                tuple(row)
                for row in connection.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }


def test_same_seed_and_day_give_identical_rows(tmp_path: Path) -> None:
    first = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    second = make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        seed(first, scale=0.02, rng_seed=7, today=SEED_TODAY, progress=False)
        seed(second, scale=0.02, rng_seed=7, today=SEED_TODAY, progress=False)
        dump = _dump(first)
        assert dump == _dump(second)
        assert len(dump["sales_orders"]) == 400
    finally:
        first.dispose()
        second.dispose()


def test_other_seed_gives_other_rows(tmp_path: Path) -> None:
    first = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    second = make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        seed(first, scale=0.01, rng_seed=1, today=SEED_TODAY, progress=False)
        seed(second, scale=0.01, rng_seed=2, today=SEED_TODAY, progress=False)
        assert _dump(first)["customers"] != _dump(second)["customers"]
    finally:
        first.dispose()
        second.dispose()


def test_full_scale_meets_the_minimums(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'full.db'}")
    try:
        summary = seed(engine, scale=1.0, today=SEED_TODAY, progress=False)
        with Session(engine) as session:
            categories = session.scalar(select(func.count(func.distinct(Product.category))))
            order_count = session.scalar(select(func.count()).select_from(SalesOrder))
    finally:
        engine.dispose()
    assert summary.customers == 1000
    assert summary.products == 500
    assert summary.warehouses == 3
    assert summary.sales_orders == order_count == 20_000
    assert summary.stock_levels == 1500
    assert summary.order_lines >= summary.sales_orders
    assert summary.invoices > 0.9 * summary.sales_orders
    assert summary.purchase_orders > 0
    assert categories is not None and categories >= 8


@pytest.mark.parametrize(
    ("scale", "expected"),
    [(1.0, (1000, 500, 20_000)), (0.05, (50, 30, 1000)), (0.001, (20, 30, 200))],
    ids=["full", "small", "minimums"],
)
def test_seed_sizes_scale_with_minimums(scale: float, expected: tuple[int, int, int]) -> None:
    sizes = seed_sizes(scale)
    assert (sizes.customers, sizes.products, sizes.orders) == expected


@pytest.mark.parametrize("scale", [0, -1, 6], ids=["zero", "negative", "too-big"])
def test_seed_sizes_reject_bad_scale(scale: float) -> None:
    with pytest.raises(ValueError, match="scale must be"):
        seed_sizes(scale)


def test_scaled_tables_have_the_scaled_sizes(session: Session) -> None:
    sizes = seed_sizes(SEED_SCALE)
    counts = {
        model: session.scalar(select(func.count()).select_from(model))
        for model in (Customer, Product, SalesOrder, Warehouse)
    }
    assert counts == {
        Customer: sizes.customers,
        Product: sizes.products,
        SalesOrder: sizes.orders,
        Warehouse: 3,
    }


def test_every_order_and_invoice_status_is_present(session: Session) -> None:
    order_statuses = set(session.scalars(select(SalesOrder.status).distinct()))
    invoice_statuses = set(session.scalars(select(Invoice.status).distinct()))
    assert order_statuses == set(ORDER_STATUSES)
    assert invoice_statuses == set(INVOICE_STATUSES)


def test_order_totals_equal_sum_of_lines(session: Session) -> None:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for line in session.scalars(select(OrderLine)):
        sums[line.order_number] += line.unit_price * line.quantity
    orders = list(session.scalars(select(SalesOrder)))
    assert orders
    for order in orders:
        assert order.total == sums[order.order_number], order.order_number


def test_lines_per_order_are_one_to_five(session: Session) -> None:
    counts = Counter(session.scalars(select(OrderLine.order_number)))
    assert set(counts.values()) <= {1, 2, 3, 4, 5}
    assert len(counts) == session.scalar(select(func.count()).select_from(SalesOrder))


def test_amount_paid_equals_sum_of_payments(session: Session) -> None:
    paid: dict[str, Decimal] = defaultdict(Decimal)
    for payment in session.scalars(select(Payment)):
        paid[payment.invoice_number] += payment.amount
    for invoice in session.scalars(select(Invoice)):
        assert invoice.amount_paid == paid[invoice.invoice_number], invoice.invoice_number
        if invoice.status == "paid":
            assert invoice.amount_paid == invoice.total
        elif invoice.status == "partially_paid":
            assert 0 < invoice.amount_paid < invoice.total
        else:
            assert invoice.amount_paid == 0


def test_invoice_status_agrees_with_due_date(session: Session) -> None:
    for invoice in session.scalars(select(Invoice)):
        assert invoice.issue_date <= SEED_TODAY
        assert invoice.due_date > invoice.issue_date
        if invoice.status == "overdue":
            assert invoice.due_date < SEED_TODAY
        if invoice.status == "open":
            assert invoice.due_date >= SEED_TODAY
        assert invoice.currency in ("EUR", "GBP")


def test_invoices_cover_orders_that_were_not_cancelled(session: Session) -> None:
    invoiced = {
        number: status
        for number, status in session.execute(select(Invoice.order_number, Invoice.status))
    }
    for order in session.scalars(select(SalesOrder)):
        if order.status == "cancelled":
            assert invoiced.get(order.order_number, "void") == "void"
        else:
            assert invoiced.get(order.order_number) not in (None, "void"), order.order_number


def test_only_shipped_and_delivered_orders_have_shipments(session: Session) -> None:
    shipments = {s.order_number: s for s in session.scalars(select(Shipment))}
    for order in session.scalars(select(SalesOrder)):
        shipment = shipments.get(order.order_number)
        if order.status in ("shipped", "delivered"):
            assert shipment is not None, order.order_number
            assert order.order_date <= shipment.shipped_at.date() <= SEED_TODAY
            assert shipment.estimated_delivery > shipment.shipped_at.date()
            assert (shipment.delivered_at is not None) == (order.status == "delivered")
            if shipment.delivered_at is not None:
                assert shipment.shipped_at < shipment.delivered_at
                assert shipment.delivered_at.date() <= SEED_TODAY
            assert re.fullmatch(TRACKING_FORMATS[shipment.carrier], shipment.tracking_number)
        else:
            assert shipment is None, order.order_number


def test_orders_fall_in_the_year_before_today(session: Session) -> None:
    first, last = session.execute(
        select(func.min(SalesOrder.order_date), func.max(SalesOrder.order_date))
    ).one()
    assert (SEED_TODAY - first).days <= 365
    assert last <= SEED_TODAY
    numbers = list(session.scalars(select(SalesOrder.order_number)))
    assert all(re.fullmatch(r"SO-1\d{5}", n) for n in numbers)
    invoice_numbers = list(session.scalars(select(Invoice.invoice_number)))
    assert all(re.fullmatch(r"INV-2\d{5}", n) for n in invoice_numbers)


def test_customers_look_real(session: Session) -> None:
    customers = list(session.scalars(select(Customer)))
    emails = [c.email for c in customers]
    assert len(set(emails)) == len(emails)
    assert all(
        e == e.lower() and re.fullmatch(r"[a-z0-9.]+@[a-z0-9.-]+\.[a-z.]+", e) for e in emails
    )
    assert all(c.name and c.phone.startswith("+") for c in customers)


def test_products_have_skus_and_the_featured_names(session: Session) -> None:
    products = {p.name: p for p in session.scalars(select(Product))}
    assert {"Blue Widget", "X200 Controller"} <= set(products)
    assert all(re.fullmatch(r"[A-Z]{3}-\d{4}", p.sku) for p in products.values())
    assert all(p.unit_price > 0 and p.description for p in products.values())


def test_stock_for_every_product_in_every_warehouse(session: Session) -> None:
    pairs = Counter(session.execute(select(StockLevel.sku, StockLevel.warehouse_code)))
    products = session.scalar(select(func.count()).select_from(Product))
    assert len(pairs) == products * 3
    assert all(count == 1 for count in pairs.values())
    assert all(
        0 <= level.reserved <= level.on_hand for level in session.scalars(select(StockLevel))
    )


def test_out_of_stock_products_have_incoming_purchase_orders(session: Session) -> None:
    on_hand: dict[str, int] = defaultdict(int)
    for sku, quantity in session.execute(select(StockLevel.sku, StockLevel.on_hand)):
        on_hand[sku] += quantity
    empty = {sku for sku, quantity in on_hand.items() if quantity == 0}
    incoming = set(
        session.scalars(select(PurchaseOrder.sku).where(PurchaseOrder.eta >= SEED_TODAY))
    )
    assert empty
    assert empty <= incoming


def test_seeding_defaults_today_to_the_real_date(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'today.db'}")
    try:
        seed(engine, scale=0.01, progress=False)
        with Session(engine) as session:
            latest = session.scalar(select(func.max(SalesOrder.order_date)))
    finally:
        engine.dispose()
    assert latest is not None and (date.today() - latest).days <= 7
