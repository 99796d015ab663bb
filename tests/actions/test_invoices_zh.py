"""Invoices in a Chinese conversation: an invoice's status, the unpaid list, what is wrong
with a typed identity, and a staff lookup of a customer nobody has, all in Chinese."""

from __future__ import annotations

from datetime import date

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.invoices import (
    ActionInvoiceStatus,
    ActionListUnpaidInvoices,
    ValidateUnpaidInvoicesForm,
)
from erp.models import Invoice
from i18n.formatting import money
from i18n.texts import speaking
from tests.actions.conftest import as_staff, texts, tracker, verified
from tests.actions.test_invoices import UNPAID, an_invoice


async def test_an_overdue_invoice_is_answered_in_chinese(erp_db: Session, domain: dict) -> None:
    invoice, customer = an_invoice(erp_db, "overdue")
    dispatcher = CollectingDispatcher()
    with speaking("zh"):
        await ActionInvoiceStatus().run(
            dispatcher,
            tracker({"invoice_number": invoice.invoice_number, **verified(customer.id)}),
            domain,
        )
    reply = texts(dispatcher)
    due = invoice.total - invoice.amount_paid
    days = (date.today() - invoice.due_date).days
    assert reply.startswith(f"发票 {invoice.invoice_number}（订单 {invoice.order_number}）已逾期。")
    assert f"尚欠 {money(due, invoice.currency, 'zh')}" in reply
    assert reply.endswith(f"已逾期 {days} 天。")


async def test_the_unpaid_list_is_in_chinese(erp_db: Session, domain: dict) -> None:
    _, customer = an_invoice(erp_db, "partially_paid")
    numbers = list(
        erp_db.scalars(
            select(Invoice.invoice_number).where(
                Invoice.customer_id == customer.id, Invoice.status.in_(UNPAID)
            )
        )
    )
    dispatcher = CollectingDispatcher()
    with speaking("zh"):
        await ActionListUnpaidInvoices().run(
            dispatcher, tracker(verified(customer.id, "email", "postcode")), domain
        )
    reply = texts(dispatcher)
    assert reply.startswith(f"您有 {len(numbers)} 张未付发票，共欠 ")
    assert all(f"- {number}：" in reply for number in numbers)


async def test_what_is_wrong_with_a_typed_identity_is_said_in_chinese(
    erp_db: Session, domain: dict
) -> None:
    email, postcode, staff = CollectingDispatcher(), CollectingDispatcher(), CollectingDispatcher()
    form = ValidateUnpaidInvoicesForm()
    with speaking("zh"):
        await form.validate_email("bob at firm", email, tracker(), domain)
        await form.validate_postcode("不知道", postcode, tracker(), domain)
        await form.validate_email("nobody@nowhere.example", staff, as_staff(tracker()), domain)
    assert texts(email) == "抱歉，这看起来不像邮箱地址；邮箱地址的格式类似 name@example.com。"
    assert texts(postcode) == "抱歉，这看起来不像邮编；请输入您地址的邮编。"
    assert texts(staff) == "没有邮箱地址为 nobody@nowhere.example 的客户。"
