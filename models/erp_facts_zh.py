"""ERP facts in Simplified Chinese: the template answers a Chinese-speaking customer reads.

The same facts as `models.erp_facts.describe_*`, read from the same records, in the words a
Chinese B2B supplier would use; dates as 2026年11月3日, money with the currency's symbol.
Chinese answers are the templates themselves: the generator is trained on English only
(docs/benchmarks.md, "Chinese"), so it never rewords them.

Example:
    >>> describe_order(status)
    '您的订单 SO-100123（2026年11月3日下单，£1,234.50）已发货，正在运输途中。...'
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from erp.invoices import due_by_currency
from i18n.formatting import day, listing, money

if TYPE_CHECKING:
    from erp.inventory import StockReport
    from erp.invoices import InvoiceStatus
    from erp.orders import OrderStatus
    from erp.payments import AccountPayments

ORDER_STATUSES = {
    "pending": "待处理：我们已收到订单，会尽快确认",
    "confirmed": "已确认，正在仓库等待拣货",
    "picking": "正在仓库拣货和打包",
    "shipped": "已发货，正在运输途中",
    "delivered": "已送达",
    "cancelled": "已取消，不会发货",
    "on_hold": "暂时搁置，我们的同事会就此联系您",
}
INVOICE_STATUSES = {
    "open": "未付款（尚未到期）",
    "paid": "已全额付清",
    "overdue": "已逾期",
    "partially_paid": "已部分付款",
    "void": "已作废，无需付款",
}
_NOT_SHIPPED = ("pending", "confirmed", "picking", "on_hold")


def _zh(value: Decimal | float | int, currency: str | None) -> str:
    return money(value, currency, "zh")


def describe_order(order: OrderStatus) -> str:
    """The order's status, dates and shipment, in Chinese."""
    total = "" if order.total is None else f"，{_zh(order.total, order.currency)}"
    status = ORDER_STATUSES.get(order.status, order.status.replace("_", " "))
    text = f"您的订单 {order.order_number}（{day(order.order_date, 'zh')}下单{total}）{status}。"
    shipment = order.shipment
    if shipment is None:
        if order.status in _NOT_SHIPPED:
            text += "订单尚未发货；发货后我会把物流信息告诉您。"
        return text
    tracking = f"运单号 {shipment.tracking_number}" if shipment.tracking_number else ""
    carrier = shipment.carrier or "承运商"
    if shipment.delivered_at is not None:
        done = f"{carrier}已于{day(shipment.delivered_at, 'zh')}送达"
        return f"{text}{done}" + (f"（{tracking}）。" if tracking else "。")
    parts = [f"已于{day(shipment.shipped_at, 'zh')}由{carrier}发出"]
    if tracking:
        parts.append(tracking)
    if shipment.estimated_delivery is not None:
        parts.append(f"预计{day(shipment.estimated_delivery, 'zh')}前送达")
    return f"{text}{'，'.join(parts)}。"


def describe_stock(report: StockReport, wanted: int | None = None) -> str:
    """Availability per warehouse, whether ``wanted`` units can be had, and the next delivery."""
    product = f"{report.name}（{report.sku}）"
    cities = [f"{w.city} {w.available} 件" for w in report.warehouses if w.available > 0 and w.city]
    where = f"（{listing(cities, 'zh')}）" if cities else ""
    available = report.total_available
    if available > 0:
        if wanted is None:
            text = f"有货，{product}目前可供 {available} 件{where}。"
        elif wanted <= available:
            text = f"可以供应 {wanted} 件：{product}目前可供 {available} 件{where}。"
        else:
            text = f"{product}目前只有 {available} 件可供{where}，不够 {wanted} 件。"
    elif any(w.city for w in report.warehouses):
        text = f"抱歉，{product}在我们所有仓库都缺货。"
    else:
        text = f"抱歉，{product}目前缺货。"
    text += f"单价 {_zh(report.unit_price, None)}（不含增值税）。"
    if available == 0 or (wanted is not None and wanted > available):
        incoming = report.next_incoming
        if incoming is None:
            text += "目前还没有安排到货；我可以请同事帮您确认交货周期。"
        elif incoming.eta is None:
            text += f"另有 {incoming.quantity} 件已在采购中，但暂时没有到货日期。"
        else:
            at = f"，到达我们的{incoming.warehouse_name}仓库" if incoming.warehouse_name else ""
            text += f"下一批 {incoming.quantity} 件预计{day(incoming.eta, 'zh')}到货{at}。"
    return text


def describe_invoice(invoice: InvoiceStatus) -> str:
    """The invoice's status and what is still due, in Chinese."""
    head = f"发票 {invoice.invoice_number}（订单 {invoice.order_number}）"
    total = _zh(invoice.total, invoice.currency)
    due = _zh(invoice.amount_due, invoice.currency)
    status = INVOICE_STATUSES.get(invoice.status, invoice.status.replace("_", " "))
    if invoice.status == "void":
        return f"{head}{status}。"
    if invoice.status == "paid":
        return f"{head}{status}：{total}。谢谢！"
    text = f"{head}{status}。总额 {total}，尚欠 {due}"
    if invoice.days_overdue > 0:
        return f"{text}；到期日为{day(invoice.due_date, 'zh')}，已逾期 {invoice.days_overdue} 天。"
    return f"{text}，请于{day(invoice.due_date, 'zh')}前付清。"


def describe_unpaid(unpaid: list[InvoiceStatus]) -> str:
    """The unpaid invoices with the total due per currency, in Chinese."""
    if not unpaid:
        return "您没有未付的发票。谢谢！"
    totals = due_by_currency(unpaid)
    owed = "和".join(_zh(total, currency) for currency, total in totals.items())
    lines = [f"您有 {len(unpaid)} 张未付发票，共欠 {owed}："]
    for invoice in unpaid:
        line = (
            f"- {invoice.invoice_number}：{_zh(invoice.amount_due, invoice.currency)}，"
            f"到期日{day(invoice.due_date, 'zh')}"
        )
        if invoice.days_overdue > 0:
            line += f"（已逾期 {invoice.days_overdue} 天）"
        lines.append(line)
    return "\n".join(lines)


def describe_payments(payments: AccountPayments) -> str:
    """Payments received on an account that keeps no invoices, in Chinese."""
    if payments.count == 0:
        return "您的账户上没有付款记录。"
    lines = [
        f"我们的系统不记录发票，所以没有未付发票可列。您的账户共收到 {payments.count} 笔付款，"
        f"合计 {_zh(payments.total, payments.currency)}。最近几笔："
    ]
    for payment in payments.recent:
        when = day(payment.date, "zh") if payment.date is not None else "日期未记录"
        reference = f"（参考号 {payment.reference}）" if payment.reference else ""
        lines.append(f"- {when}：{_zh(payment.amount, payments.currency)}{reference}")
    return "\n".join(lines)
