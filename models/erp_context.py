"""How ERP records read as generator context: one "field: value" line per fact.

The data builder and the actions render records the same way, so the model reads at
serving time exactly what it was trained on.

Example:
    >>> item = order_context(get_order_status("SO-100123", customer_id=7, session=session))
    >>> item.source
    'ERP order SO-100123'
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from models.examples import ContextItem

if TYPE_CHECKING:
    from erp.inventory import StockReport
    from erp.invoices import InvoiceStatus
    from erp.orders import OrderStatus

# What each order status means to a customer, in the words of the order-status help page.
ORDER_STATUS_MEANING = {
    "pending": "we have received the order and will confirm it shortly",
    "confirmed": "the order is accepted and waiting to be picked in the warehouse",
    "picking": "the order is being picked and packed in the warehouse",
    "shipped": "the order has left the warehouse and is on its way",
    "delivered": "the carrier has delivered the order",
    "cancelled": "the order was cancelled and will not be shipped",
    "on_hold": "the order is on hold; a colleague will contact the customer about it",
}
INVOICE_STATUS_MEANING = {
    "open": "not paid yet and not yet due",
    "paid": "paid in full",
    "overdue": "the due date has passed and money is still due",
    "partially_paid": "part of the invoice has been paid",
    "void": "cancelled; nothing is due",
}


def status_words(status: str) -> str:
    """``"on_hold"`` -> ``"on hold"``, ``"partially_paid"`` -> ``"partially paid"``."""
    return status.replace("_", " ")


def amount(value: Decimal, currency: str | None = None) -> str:
    """``amount(Decimal("1234.5"), "GBP")`` -> ``"1,234.50 GBP"``."""
    text = f"{value:,.2f}"
    return f"{text} {currency}" if currency else text


def iso(value: date | datetime) -> str:
    """A date as 2026-11-20 (a datetime loses its time: customers get the day)."""
    day = value.date() if isinstance(value, datetime) else value
    return day.isoformat()


def order_context(order: OrderStatus) -> ContextItem:
    """The facts a customer may learn about their order, as one context item."""
    lines = [
        f"order number: {order.order_number}",
        f"status: {status_words(order.status)} ({ORDER_STATUS_MEANING.get(order.status, '')})",
        f"order date: {iso(order.order_date)}",
        f"order total: {amount(order.total, order.currency)}",
        f"order lines: {order.line_count}",
    ]
    shipment = order.shipment
    if shipment is None:
        lines.append("shipment: not shipped yet (no carrier or tracking number yet)")
    else:
        lines += [
            f"carrier: {shipment.carrier}",
            f"tracking number: {shipment.tracking_number}",
            f"shipped on: {iso(shipment.shipped_at)}",
            f"estimated delivery: {iso(shipment.estimated_delivery)}",
            "delivered on: "
            + (iso(shipment.delivered_at) if shipment.delivered_at else "not delivered yet"),
        ]
    return ContextItem(
        source=f"ERP order {order.order_number}",
        text="\n".join(lines),
        ref=f"erp:order:{order.order_number}",
    )


def invoice_context(invoice: InvoiceStatus) -> ContextItem:
    """An invoice's balance as of the day it was read, as one context item."""
    currency = invoice.currency
    lines = [
        f"invoice number: {invoice.invoice_number}",
        f"order number: {invoice.order_number}",
        f"status: {status_words(invoice.status)} "
        f"({INVOICE_STATUS_MEANING.get(invoice.status, '')})",
        f"issue date: {iso(invoice.issue_date)}",
        f"due date: {iso(invoice.due_date)}",
        f"invoice total: {amount(invoice.total, currency)}",
        f"amount paid: {amount(invoice.amount_paid, currency)}",
        f"amount due: {amount(invoice.amount_due, currency)}",
        f"days overdue: {invoice.days_overdue}",
    ]
    return ContextItem(
        source=f"ERP invoice {invoice.invoice_number}",
        text="\n".join(lines),
        ref=f"erp:invoice:{invoice.invoice_number}",
    )


def stock_context(report: StockReport) -> ContextItem:
    """A product's availability per warehouse and its next delivery, as one context item."""
    lines = [
        f"product: {report.name}",
        f"sku: {report.sku}",
        f"unit price: {amount(report.unit_price)} (before VAT)",
    ]
    for level in report.warehouses:
        lines.append(
            f"available at {level.warehouse_name} ({level.warehouse_code}, {level.city}): "
            f"{level.available}"
        )
    lines.append(f"total available: {report.total_available}")
    lines.append(f"stock status: {'in stock' if report.total_available > 0 else 'out of stock'}")
    incoming = report.next_incoming
    if incoming is None:
        lines.append("next delivery: none scheduled")
    else:
        lines.append(
            f"next delivery: {incoming.quantity} units due {iso(incoming.eta)} at "
            f"{incoming.warehouse_name} ({incoming.warehouse_code})"
        )
    return ContextItem(
        source=f"ERP stock {report.sku}",
        text="\n".join(lines),
        ref=f"erp:stock:{report.sku}",
    )
