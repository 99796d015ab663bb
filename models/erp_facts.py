"""ERP facts in words: one vocabulary of statuses, money and dates for customers and the generator.

Every ERP fact the assistant states is rendered here, twice over the same tables: as the
sentences a customer reads (``describe_*``, the template answers the actions send at once)
and as the generator's context (``*_context``: one "field: value" line per fact, exactly as
the training data renders records, so the model reads at serving time what it was trained
on). A status means the same thing in both because both read it from one table.

Example:
    >>> describe_order(get_order_status("SO-100123", customer_id=7, session=session))
    'Your order SO-100123 from 3 Nov 2026 (£1,234.50) has shipped and is on its way. ...'
    >>> order_context(status).source
    'ERP order SO-100123'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from erp.invoices import due_by_currency
from i18n.formatting import day, listing, money
from i18n.languages import Language
from models import erp_facts_zh
from models.examples import ContextItem

if TYPE_CHECKING:
    from erp.inventory import StockReport
    from erp.invoices import InvoiceStatus
    from erp.orders import OrderStatus
    from erp.payments import AccountPayments


@dataclass(frozen=True)
class StatusText:
    """One status in words: ``meaning`` for the generator's context, ``customer`` for a reply.

    ``customer`` completes "Your order SO-100123 ... " / "Invoice INV-200123 ... ".
    """

    meaning: str
    customer: str


ORDER_STATUSES = {
    "pending": StatusText(
        "we have received the order and will confirm it shortly",
        "is pending: we have received it and will confirm it shortly",
    ),
    "confirmed": StatusText(
        "the order is accepted and waiting to be picked in the warehouse",
        "is confirmed and waiting to be picked in our warehouse",
    ),
    "picking": StatusText(
        "the order is being picked and packed in the warehouse",
        "is being picked and packed in our warehouse right now",
    ),
    "shipped": StatusText(
        "the order has left the warehouse and is on its way",
        "has shipped and is on its way",
    ),
    "delivered": StatusText("the carrier has delivered the order", "was delivered"),
    "cancelled": StatusText(
        "the order was cancelled and will not be shipped",
        "was cancelled, so it will not be shipped",
    ),
    "on_hold": StatusText(
        "the order is on hold; a colleague will contact the customer about it",
        "is on hold; a colleague will contact you about it",
    ),
}
INVOICE_STATUSES = {
    "open": StatusText("not paid yet and not yet due", "is open and not paid yet"),
    "paid": StatusText("paid in full", "is paid in full"),
    "overdue": StatusText("the due date has passed and money is still due", "is overdue"),
    "partially_paid": StatusText("part of the invoice has been paid", "is partially paid"),
    "void": StatusText("cancelled; nothing is due", "has been voided, so nothing is due on it"),
}
_NOT_SHIPPED = ("pending", "confirmed", "picking", "on_hold")


def _status(table: dict[str, StatusText], status: str) -> StatusText:
    words = status_words(status)
    return table.get(status, StatusText(words, f"is {words}"))


# --- values -------------------------------------------------------------------------------


def status_words(status: str) -> str:
    """``"on_hold"`` -> ``"on hold"``, ``"partially_paid"`` -> ``"partially paid"``."""
    return status.replace("_", " ")


def amount(value: Decimal, currency: str | None = None) -> str:
    """Money as the generator's context states it: ``amount(Decimal("1234.5"), "GBP")`` ->
    ``"1,234.50 GBP"``."""
    text = f"{value:,.2f}"
    return f"{text} {currency}" if currency else text


def iso(value: date | datetime) -> str:
    """A date as the context states it, 2026-11-20 (a datetime loses its time)."""
    only_day = value.date() if isinstance(value, datetime) else value
    return only_day.isoformat()


def plural(count: int, word: str) -> str:
    """``plural(1, "day")`` -> ``"1 day"``, ``plural(3, "day")`` -> ``"3 days"``."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


# --- what a customer reads ----------------------------------------------------------------


def describe_order(order: OrderStatus, language: Language = "en") -> str:
    """One message with every fact of the order the customer needs (an ERP that keeps no
    total, carrier, tracking number or delivery estimate leaves that part out)."""
    if language == "zh":
        return erp_facts_zh.describe_order(order)
    total = "" if order.total is None else f" ({money(order.total, order.currency)})"
    text = (
        f"Your order {order.order_number} from {day(order.order_date)}{total} "
        f"{_status(ORDER_STATUSES, order.status).customer}."
    )
    shipment = order.shipment
    if shipment is None:
        if order.status in _NOT_SHIPPED:
            text += " It hasn't shipped yet; I'll have tracking details for you once it has."
        return text
    tracking = f"tracking number {shipment.tracking_number}" if shipment.tracking_number else ""
    if shipment.delivered_at is not None:
        who = shipment.carrier or "Our carrier"
        return f"{text} {who} delivered it on {day(shipment.delivered_at)}" + (
            f" ({tracking})." if tracking else "."
        )
    parts = [f"It left us on {day(shipment.shipped_at)}"]
    if shipment.carrier:
        parts[0] += f" with {shipment.carrier}"
    if tracking:
        parts.append(tracking)
    if shipment.estimated_delivery is not None:
        parts.append(f"and should arrive by {day(shipment.estimated_delivery)}")
    return f"{text} {', '.join(parts)}."


def describe_stock(
    report: StockReport, wanted: int | None = None, language: Language = "en"
) -> str:
    """Availability per warehouse, whether ``wanted`` units can be had, and the next delivery."""
    if language == "zh":
        return erp_facts_zh.describe_stock(report, wanted)
    product = f"{report.name} ({report.sku})"
    price = f"{money(report.unit_price, None)} each before VAT"
    # An ERP with one stock figure per product names no warehouse.
    cities = [f"{w.available} in {w.city}" for w in report.warehouses if w.available > 0 and w.city]
    where = f" ({listing(cities)})" if cities else ""
    if report.total_available > 0:
        if wanted is None:
            text = f"Yes, {product} is in stock: {report.total_available} available{where}."
        elif wanted <= report.total_available:
            text = (
                f"Yes, we can supply {wanted}: {product} has {report.total_available} "
                f"available{where}."
            )
        else:
            text = (
                f"We have {report.total_available} of {product} available{where}, "
                f"not enough for {plural(wanted, 'unit')}."
            )
    elif any(w.city for w in report.warehouses):
        text = f"Sorry, {product} is out of stock in all our warehouses."
    else:
        text = f"Sorry, {product} is out of stock."
    text += f" It costs {price}."
    short = report.total_available == 0 or (wanted is not None and wanted > report.total_available)
    if short:
        incoming = report.next_incoming
        if incoming is None:
            text += " No delivery is scheduled yet; I can ask a colleague to check lead times."
        elif incoming.eta is None:
            text += f" {incoming.quantity} more are on order; I don't have a delivery date."
        else:
            where = (
                f" at our {incoming.warehouse_name} warehouse" if incoming.warehouse_name else ""
            )
            text += (
                f" The next delivery, {incoming.quantity} units, is expected on "
                f"{day(incoming.eta)}{where}."
            )
    return text


def describe_invoice(invoice: InvoiceStatus, language: Language = "en") -> str:
    """One message with the invoice's status and what is still due."""
    if language == "zh":
        return erp_facts_zh.describe_invoice(invoice)
    head = f"Invoice {invoice.invoice_number} (order {invoice.order_number})"
    total = money(invoice.total, invoice.currency)
    due = money(invoice.amount_due, invoice.currency)
    said = _status(INVOICE_STATUSES, invoice.status).customer
    if invoice.status == "void":
        return f"{head} {said}."
    if invoice.status == "paid":
        return f"{head} {said}: {total}. Thank you!"
    text = f"{head} {said}. Of the {total} total, {due} is still due"
    if invoice.days_overdue > 0:
        overdue = plural(invoice.days_overdue, "day")
        return f"{text}; it was due on {day(invoice.due_date)}, {overdue} ago."
    return f"{text} by {day(invoice.due_date)}."


def describe_unpaid(unpaid: list[InvoiceStatus], language: Language = "en") -> str:
    """A list of unpaid invoices with the total due per currency."""
    if language == "zh":
        return erp_facts_zh.describe_unpaid(unpaid)
    if not unpaid:
        return "You have no unpaid invoices. Thank you!"
    totals = due_by_currency(unpaid)
    owed = " and ".join(money(total, currency) for currency, total in totals.items())
    lines = [f"You have {plural(len(unpaid), 'unpaid invoice')}, {owed} due in total:"]
    for invoice in unpaid:
        line = (
            f"- {invoice.invoice_number}: {money(invoice.amount_due, invoice.currency)} due "
            f"{day(invoice.due_date)}"
        )
        if invoice.days_overdue > 0:
            line += f" ({plural(invoice.days_overdue, 'day')} overdue)"
        lines.append(line)
    return "\n".join(lines)


def describe_payments(payments: AccountPayments, language: Language = "en") -> str:
    """Payments received on an account that keeps no invoices: the count, the sum and the
    latest few."""
    if language == "zh":
        return erp_facts_zh.describe_payments(payments)
    if payments.count == 0:
        return "We have no payments recorded on your account."
    lines = [
        f"We keep no invoices, so there is nothing to list as unpaid. We have received "
        f"{plural(payments.count, 'payment')} on your account, "
        f"{money(payments.total, payments.currency)} in total. The latest:"
    ]
    for payment in payments.recent:
        when = day(payment.date) if payment.date is not None else "date not recorded"
        reference = f" (ref. {payment.reference})" if payment.reference else ""
        lines.append(f"- {when}: {money(payment.amount, payments.currency)}{reference}")
    return "\n".join(lines)


# --- what the generator reads -------------------------------------------------------------


def order_context(order: OrderStatus) -> ContextItem:
    """The facts a customer may learn about their order, as one context item."""
    lines = [
        f"order number: {order.order_number}",
        f"status: {status_words(order.status)} ({_meaning(ORDER_STATUSES, order.status)})",
        f"order date: {iso(order.order_date)}",
        f"order lines: {order.line_count}",
    ]
    if order.total is not None:
        lines.insert(3, f"order total: {amount(order.total, order.currency)}")
    shipment = order.shipment
    if shipment is None:
        lines.append("shipment: not shipped yet (no carrier or tracking number yet)")
    else:
        lines += [
            *([f"carrier: {shipment.carrier}"] if shipment.carrier else []),
            *([f"tracking number: {shipment.tracking_number}"] if shipment.tracking_number else []),
            f"shipped on: {iso(shipment.shipped_at)}",
            *(
                [f"estimated delivery: {iso(shipment.estimated_delivery)}"]
                if shipment.estimated_delivery is not None
                else []
            ),
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
        f"status: {status_words(invoice.status)} ({_meaning(INVOICE_STATUSES, invoice.status)})",
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
        if level.warehouse_code:
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
        due = f"due {iso(incoming.eta)}" if incoming.eta is not None else "on order, no date"
        where = (
            f" at {incoming.warehouse_name} ({incoming.warehouse_code})"
            if incoming.warehouse_code
            else ""
        )
        lines.append(f"next delivery: {incoming.quantity} units {due}{where}")
    return ContextItem(
        source=f"ERP stock {report.sku}",
        text="\n".join(lines),
        ref=f"erp:stock:{report.sku}",
    )


def _meaning(table: dict[str, StatusText], status: str) -> str:
    found = table.get(status)
    return found.meaning if found is not None else ""
