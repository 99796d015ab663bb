"""ERP facts in Chinese: the same facts as the English templates, as a Chinese reader writes
them (dates 2026年11月3日, amounts with the currency's symbol)."""

from __future__ import annotations

import pytest

from erp import models as erp_models
from models import erp_facts_zh
from models.erp_facts import describe_invoice, describe_order, describe_stock, describe_unpaid
from tests.models.test_erp_facts import SHIPMENT, invoice, order, stock


def reads_as_chinese(text: str) -> None:
    assert text.endswith(("。", "！")), text
    assert "_" not in text and "None" not in text, text


@pytest.mark.parametrize("status", erp_models.ORDER_STATUSES)
def test_every_order_status_has_chinese_words(status: str) -> None:
    text = describe_order(order(status), "zh")
    reads_as_chinese(text)
    assert erp_facts_zh.ORDER_STATUSES[status] in text


@pytest.mark.parametrize("status", erp_models.INVOICE_STATUSES)
def test_every_invoice_status_has_chinese_words(status: str) -> None:
    text = describe_invoice(invoice(status, overdue=5 if status == "overdue" else 0), "zh")
    reads_as_chinese(text)
    assert erp_facts_zh.INVOICE_STATUSES[status] in text


def test_a_shipped_order_in_chinese() -> None:
    assert describe_order(order("shipped", SHIPMENT), "zh") == (
        "您的订单 SO-104211（2026年11月3日下单，£1,234.50）已发货，正在运输途中。"
        "已于2026年11月5日由DHL发出，运单号 JD0146000039，预计2026年11月8日前送达。"
    )


def test_an_overdue_invoice_in_chinese() -> None:
    assert describe_invoice(invoice("overdue", overdue=12), "zh") == (
        "发票 INV-200123（订单 SO-104211）已逾期。总额 €1,000.00，尚欠 €400.00；"
        "到期日为2026年10月31日，已逾期 12 天。"
    )


def test_stock_in_chinese_names_each_warehouse_and_the_next_delivery() -> None:
    assert describe_stock(stock([600, 597]), language="zh") == (
        "有货，Blue Widget（WID-1001）目前可供 1197 件（Leeds 600 件和Bristol 597 件）。"
        "单价 12.50（不含增值税）。"
    )
    short = describe_stock(stock([3]), wanted=40, language="zh")
    assert "不够 40 件" in short and "下一批 200 件预计2026年12月3日到货" in short


def test_unpaid_invoices_in_chinese() -> None:
    text = describe_unpaid([invoice("overdue", overdue=3), invoice("open")], "zh")
    assert text.splitlines()[0] == "您有 2 张未付发票，共欠 €800.00："
    assert "（已逾期 3 天）" in text
    assert describe_unpaid([], "zh") == "您没有未付的发票。谢谢！"
