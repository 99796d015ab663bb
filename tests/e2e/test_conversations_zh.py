"""The conversations of test_conversations.py in Chinese, over POST /api/messages against the
seeded ERP: same verification, same facts, Chinese words; the language followed per message
and switched on request."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from demo.records import in_stock_everywhere
from erp.models import Customer, Invoice, PurchaseOrder, SalesOrder, StockLevel
from tests.e2e.conftest import Assistant
from tests.e2e.records import amount, order_with, shipment_of

pytestmark = pytest.mark.e2e

ASK_IDENTITY = "为了保护您的账户安全"


def day(value: date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


# From the 21st order on: the English conversations use the first ones (lockouts, state).
FIRST = 20


def verify(assistant: Assistant, sender: str, question: str, identity: str) -> str:
    first = assistant.texts(sender, question)
    assert ASK_IDENTITY in first, first
    return assistant.texts(sender, identity)


def test_greeting_in_chinese(assistant: Assistant) -> None:
    reply = assistant.texts("zh-greet", "你好")
    assert "订单" in reply and "发票" in reply


def test_shipped_order_with_email(assistant: Assistant, db: Session) -> None:
    order, customer = order_with(db, "shipped", offset=FIRST)
    shipment = shipment_of(db, order)
    reply = verify(
        assistant, "zh-shipped", f"请问我的订单{order.order_number}到哪了？", customer.email
    )
    assert reply.startswith(f"您的订单 {order.order_number}") and "已发货" in reply
    assert day(order.order_date) in reply
    assert shipment.tracking_number in reply and day(shipment.estimated_delivery) in reply


def test_delivered_order_with_full_width_number_and_postcode(
    assistant: Assistant, db: Session
) -> None:
    order, customer = order_with(db, "delivered", offset=FIRST + 3)
    shipment = shipment_of(db, order)
    wide = order.order_number.translate(
        str.maketrans("SO-0123456789", "ＳＯ－０１２３４５６７８９")
    )
    reply = verify(
        assistant, "zh-delivered", f"订单号{wide}，送到了吗", f"邮编是{customer.postcode}"
    )
    assert "已送达" in reply and day(shipment.delivered_at) in reply
    assert amount(order.total) in reply


def test_wrong_email_reveals_nothing_and_gives_up_after_three(
    assistant: Assistant, db: Session
) -> None:
    order, customer = order_with(db, "shipped", offset=FIRST + 7)
    shipment = shipment_of(db, order)
    sender = "zh-wrong-email"
    first = verify(assistant, sender, f"{order.order_number}发货了吗", "someone.else@example.com")
    second = assistant.texts(sender, "another@example.org")
    third = assistant.texts(sender, "ZZ9 9ZZ")
    for reply in (first, second, third):
        assert shipment.tracking_number not in reply and amount(order.total) not in reply
    assert "无法通过验证" in first and "无法通过验证" in second
    assert "不能透露" in third


def test_overdue_invoice(assistant: Assistant, db: Session) -> None:
    invoice = db.scalars(
        select(Invoice).where(Invoice.status == "overdue").order_by(Invoice.invoice_number)
        .offset(3).limit(1)
    ).one()  # fmt: skip
    customer = db.get(Customer, invoice.customer_id)
    reply = verify(assistant, "zh-invoice", f"{invoice.invoice_number}付了吗", customer.email)
    assert "已逾期" in reply
    assert amount(invoice.total - invoice.amount_paid) in reply and day(invoice.due_date) in reply
    assert f"{(date.today() - invoice.due_date).days} 天" in reply


def test_stock_by_sku(assistant: Assistant, db: Session) -> None:
    sku, available = in_stock_everywhere(db, offset=3)
    reply = assistant.texts("zh-stock", f"{sku}有货吗")
    assert reply.startswith("有货") and f"{sku}" in reply and f"可供 {available} 件" in reply


def test_out_of_stock_product_gives_next_eta(assistant: Assistant, db: Session) -> None:
    sku = db.scalar(
        select(StockLevel.sku)
        .join(PurchaseOrder, PurchaseOrder.sku == StockLevel.sku)
        .where(PurchaseOrder.eta >= date.today())
        .group_by(StockLevel.sku)
        .having(func.max(StockLevel.on_hand - StockLevel.reserved) <= 0)
        .order_by(StockLevel.sku)
        .limit(1)
    )
    eta = db.scalar(
        select(func.min(PurchaseOrder.eta)).where(
            PurchaseOrder.sku == sku, PurchaseOrder.eta >= date.today()
        )
    )
    reply = assistant.texts("zh-out-of-stock", f"请问{sku}还有库存吗？")
    assert "缺货" in reply and day(eta) in reply


def test_out_of_scope_and_stop(assistant: Assistant) -> None:
    assert "我可以查询" in assistant.texts("zh-oos", "明天巴黎天气怎么样")
    sender = "zh-stop"
    assert "订单号" in assistant.texts(sender, "我想查一下我的订单")
    assert "已经停止" in assistant.texts(sender, "算了，不查了")


def test_bad_order_number_is_explained(assistant: Assistant) -> None:
    sender = "zh-bad-id"
    assistant.texts(sender, "我的订单到哪了")
    reply = assistant.texts(sender, "订单号是 1; DROP TABLE customers")
    assert "不是有效的订单号" in reply


def test_the_language_follows_each_message_and_a_request_keeps_it(
    assistant: Assistant, db: Session
) -> None:
    sender = "zh-switch"
    assert "订单" in assistant.texts(sender, "你好")
    assert "I can help" in assistant.texts(sender, "hi, what can you do?")
    assert "中文" in assistant.texts(sender, "请用中文回答")
    order, customer = order_with(db, "shipped", offset=FIRST + 9)
    first = assistant.texts(sender, f"where is my order {order.order_number}")
    assert ASK_IDENTITY in first  # asked for Chinese: written English does not switch back
    assert "您的订单" in assistant.texts(sender, customer.email)
    assert "English" in assistant.texts(sender, "please answer in English")
    assert "I can" in assistant.texts(sender, "明天天气怎么样")


def test_a_person_is_asked_for_in_chinese(assistant: Assistant) -> None:
    reply = assistant.texts("zh-human", "我要找人工客服")
    # Handed over, told in Chinese (the notice depends on the team's hours and who is online).
    assert "同事" in reply and "colleague" not in reply, reply


def test_a_policy_question_is_answered_from_the_chinese_version(assistant: Assistant) -> None:
    response = assistant.client.post(
        "/api/messages", json={"sender_id": "zh-doc", "text": "退货期限是多久？"}
    )
    messages = response.json()["messages"]
    text = "\n".join(m["text"] or "" for m in messages)
    assert "来源" in text and "退货" in text, text


def test_unknown_order_gets_the_same_reply_as_a_wrong_identity(
    assistant: Assistant, db: Session
) -> None:
    order, customer = order_with(db, "confirmed", offset=FIRST)
    wrong = verify(assistant, "zh-neutral-a", f"订单{order.order_number}确认了吗", "no@example.com")
    missing = db.scalar(select(func.max(SalesOrder.order_number)))
    unknown = f"SO-{int(missing.removeprefix('SO-')) + 1}"
    other = verify(assistant, "zh-neutral-b", f"订单{unknown}确认了吗", customer.email)
    assert wrong == other


def test_unpaid_invoices_need_email_and_postcode(assistant: Assistant, db: Session) -> None:
    unpaid = ("open", "overdue", "partially_paid")
    customer_id = db.scalar(
        select(Invoice.customer_id).where(Invoice.status.in_(unpaid)).order_by(Invoice.customer_id)
        .offset(5).limit(1)
    )  # fmt: skip
    customer = db.get(Customer, customer_id)
    numbers = db.scalars(
        select(Invoice.invoice_number).where(
            Invoice.customer_id == customer_id, Invoice.status.in_(unpaid)
        )
    ).all()
    sender = "zh-unpaid"
    assert "邮箱" in assistant.texts(sender, "我还有哪些发票没付？")
    assert "邮编" in assistant.texts(sender, customer.email)
    reply = assistant.texts(sender, customer.postcode)
    assert reply.startswith("您有") and all(number in reply for number in numbers), reply


def test_a_confirmed_order_is_cancelled_after_a_chinese_yes(
    assistant: Assistant, db: Session
) -> None:
    order, customer = order_with(db, "confirmed", offset=FIRST + 7)
    sender = "zh-cancel"
    assert ASK_IDENTITY in assistant.texts(sender, f"帮我取消订单{order.order_number}")
    summary = assistant.texts(sender, customer.postcode)
    assert f"请确认：取消订单 {order.order_number}" in summary, summary
    done = assistant.texts(sender, "确认")
    assert done.startswith(f"已完成：订单 {order.order_number} 已取消"), done
    db.expire_all()
    assert db.get(SalesOrder, order.order_number).status == "cancelled"
