"""ERP facts in words: every status of the ERP has one meaning, and replies read as sentences."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest

from erp import models as erp_models
from erp.inventory import IncomingStock, StockReport, WarehouseStock
from erp.invoices import InvoiceStatus
from erp.orders import OrderStatus, ShipmentInfo
from models import erp_facts
from models.erp_facts import (
    describe_invoice,
    describe_order,
    describe_stock,
    describe_unpaid,
    invoice_context,
    money,
    order_context,
)

SHIPMENT = ShipmentInfo(
    carrier="DHL",
    tracking_number="JD0146000039",
    shipped_at=datetime(2026, 11, 5, 9, 30),
    estimated_delivery=date(2026, 11, 8),
    delivered_at=None,
)


def order(status: str, shipment: ShipmentInfo | None = None) -> OrderStatus:
    return OrderStatus(
        order_number="SO-104211",
        status=status,
        order_date=date(2026, 11, 3),
        total=Decimal("1234.50"),
        currency="GBP",
        line_count=2,
        shipment=shipment,
    )


def invoice(status: str, due: str = "400.00", overdue: int = 0) -> InvoiceStatus:
    return InvoiceStatus(
        invoice_number="INV-200123",
        order_number="SO-104211",
        status=status,
        issue_date=date(2026, 10, 1),
        due_date=date(2026, 10, 31),
        total=Decimal("1000.00"),
        amount_paid=Decimal("1000.00") - Decimal(due),
        amount_due=Decimal(due),
        currency="EUR",
        days_overdue=overdue,
    )


def stock(available: list[int], incoming: bool = True) -> StockReport:
    warehouses = [
        WarehouseStock(f"W{i}", f"Warehouse {i}", city, 10, 10 - n, n)
        for i, (city, n) in enumerate(zip(["Leeds", "Bristol", "Glasgow"], available, strict=False))
    ]
    supply = (
        IncomingStock("PO-1", 200, date(2026, 12, 3), "W0", "Warehouse 0") if incoming else None
    )
    total = sum(w.available for w in warehouses)
    return StockReport("WID-1001", "Blue Widget", Decimal("12.5"), tuple(warehouses), total, supply)


def reads_as_sentences(text: str) -> None:
    assert text.endswith((".", "!")), text
    assert "_" not in text and "None" not in text and "  " not in text, text
    assert not re.search(r"\b(\w+) \1\b", text), text  # no doubled words


@pytest.mark.parametrize("status", erp_models.ORDER_STATUSES)
def test_every_order_status_has_one_meaning_for_both_readers(status: str) -> None:
    text = describe_order(order(status))
    reads_as_sentences(text)
    assert erp_facts.ORDER_STATUSES[status].customer in text
    assert erp_facts.ORDER_STATUSES[status].meaning in order_context(order(status)).text


@pytest.mark.parametrize("status", erp_models.INVOICE_STATUSES)
def test_every_invoice_status_has_one_meaning_for_both_readers(status: str) -> None:
    text = describe_invoice(invoice(status, overdue=5 if status == "overdue" else 0))
    reads_as_sentences(text)
    assert erp_facts.INVOICE_STATUSES[status].customer in text
    assert erp_facts.INVOICE_STATUSES[status].meaning in invoice_context(invoice(status)).text


def test_a_shipped_order_reads_as_a_person_would_write_it() -> None:
    assert describe_order(order("shipped", SHIPMENT)) == (
        "Your order SO-104211 from 3 Nov 2026 (£1,234.50) has shipped and is on its way. "
        "It left us on 5 Nov 2026 with DHL, tracking number JD0146000039, and should arrive "
        "by 8 Nov 2026."
    )


def test_an_overdue_invoice_says_what_is_due_and_since_when() -> None:
    assert describe_invoice(invoice("overdue", overdue=12)) == (
        "Invoice INV-200123 (order SO-104211) is overdue. Of the €1,000.00 total, €400.00 is "
        "still due; it was due on 31 Oct 2026, 12 days ago."
    )


def test_stock_in_two_warehouses_reads_as_one_sentence_per_fact() -> None:
    text = describe_stock(stock([600, 597]))
    assert text == (
        "Yes, Blue Widget (WID-1001) is in stock: 1197 available (600 in Leeds and 597 in "
        "Bristol). It costs 12.50 each before VAT."
    )


def test_stock_short_of_a_wanted_quantity_gives_the_next_delivery() -> None:
    text = describe_stock(stock([3]), wanted=40)
    reads_as_sentences(text)
    assert (
        "We have 3 of Blue Widget (WID-1001) available (3 in Leeds), not enough for 40 units"
        in text
    )
    assert "The next delivery, 200 units, is expected on 3 Dec 2026" in text


def test_out_of_stock_without_a_delivery_offers_a_colleague() -> None:
    text = describe_stock(stock([0, 0], incoming=False))
    reads_as_sentences(text)
    assert text.startswith("Sorry, Blue Widget (WID-1001) is out of stock in all our warehouses.")
    assert "ask a colleague" in text


def test_unpaid_invoices_are_totalled_per_currency() -> None:
    text = describe_unpaid([invoice("open"), invoice("overdue", "100.00", 3)])
    assert text.splitlines()[0] == "You have 2 unpaid invoices, €500.00 due in total:"


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (Decimal("1234.5"), "EUR", "€1,234.50"),
        (Decimal("3"), "gbp", "£3.00"),
        (Decimal("10"), "CHF", "10.00 CHF"),
        (Decimal("10"), None, "10.00"),
    ],
)
def test_money_as_a_customer_reads_it(value: Decimal, currency: str | None, expected: str) -> None:
    assert money(value, currency) == expected
