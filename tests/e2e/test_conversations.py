"""Real conversations over POST /api/messages against the seeded ERP database."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.processes import wait_until_healthy
from demo.records import in_stock_everywhere
from erp.models import (
    AssistantWrite,
    Customer,
    Invoice,
    Product,
    PurchaseOrder,
    SalesOrder,
    Shipment,
    StockLevel,
)
from tests.e2e.conftest import Assistant
from tests.e2e.records import amount, order_with, shipment_of

pytestmark = pytest.mark.e2e


def day(value: date) -> str:
    return f"{value.day} {value:%b %Y}"


def verify_order_conversation(
    assistant: Assistant, sender: str, question: str, identity: str
) -> str:
    first = assistant.texts(sender, question)
    assert "email address or the postcode" in first, first
    return assistant.texts(sender, identity)


def test_greeting_says_what_the_bot_does(assistant: Assistant) -> None:
    reply = assistant.texts("e2e-greet", "hello there")
    assert "order" in reply and "invoice" in reply


def test_shipped_order_with_email_gives_carrier_tracking_and_eta(
    assistant: Assistant, db: Session
) -> None:
    order, customer = order_with(db, "shipped")
    shipment = shipment_of(db, order)
    reply = verify_order_conversation(
        assistant, "e2e-shipped", f"where is my order {order.order_number}", customer.email.upper()
    )
    assert order.order_number in reply
    assert "shipped" in reply
    assert day(order.order_date) in reply
    assert shipment.carrier in reply and shipment.tracking_number in reply
    assert day(shipment.estimated_delivery) in reply


def test_delivered_order_with_postcode_typed_loosely(assistant: Assistant, db: Session) -> None:
    order, customer = order_with(db, "delivered", offset=3)
    shipment = shipment_of(db, order)
    digits = order.order_number.removeprefix("SO-")
    loose_postcode = customer.postcode.replace(" ", "").lower()
    reply = verify_order_conversation(
        assistant, "e2e-delivered", f"status of my order {digits} please", loose_postcode
    )
    assert "delivered" in reply and day(shipment.delivered_at) in reply
    assert amount(order.total) in reply


def test_track_shipment_with_hash_number(assistant: Assistant, db: Session) -> None:
    order, customer = order_with(db, "shipped", offset=5)
    shipment = shipment_of(db, order)
    digits = order.order_number.removeprefix("SO-")
    reply = verify_order_conversation(
        assistant, "e2e-track", f"can you track my parcel #{digits}", customer.email
    )
    assert shipment.tracking_number in reply


def test_wrong_email_reveals_nothing_and_gives_up_after_three(
    assistant: Assistant, db: Session
) -> None:
    order, customer = order_with(db, "shipped", offset=7)
    shipment = shipment_of(db, order)
    sender = "e2e-wrong-email"
    first = verify_order_conversation(
        assistant, sender, f"where is order {order.order_number}", "someone.else@example.com"
    )
    second = assistant.texts(sender, "another@example.org")
    third = assistant.texts(sender, "ZZ9 9ZZ")
    for reply in (first, second, third):
        assert shipment.tracking_number not in reply
        assert amount(order.total) not in reply
        assert "shipped" not in reply and day(order.order_date) not in reply
    assert "can't verify" in first and "can't verify" in second
    assert "can't share anything" in third
    # The attempt has ended: the right email now starts nothing.
    after = assistant.texts(sender, customer.email)
    assert shipment.tracking_number not in after


def test_unknown_order_gets_the_same_reply_as_a_wrong_identity(
    assistant: Assistant, db: Session
) -> None:
    order, customer = order_with(db, "confirmed")
    wrong = verify_order_conversation(
        assistant, "e2e-neutral-a", f"status of order {order.order_number}", "nobody@example.com"
    )
    missing_number = db.scalar(select(func.max(SalesOrder.order_number)))
    unknown = f"SO-{int(missing_number.removeprefix('SO-')) + 1}"
    missing = verify_order_conversation(
        assistant, "e2e-neutral-b", f"status of order {unknown}", customer.email
    )
    assert wrong == missing


def test_verified_for_one_customer_never_opens_another(assistant: Assistant, db: Session) -> None:
    order_a, customer_a = order_with(db, "delivered", offset=11)
    order_b = db.scalars(
        select(SalesOrder)
        .where(SalesOrder.customer_id != customer_a.id, SalesOrder.status == "shipped")
        .limit(1)
    ).one()
    sender = "e2e-two-customers"
    verify_order_conversation(
        assistant, sender, f"where is my order {order_a.order_number}", customer_a.email
    )
    reply = assistant.texts(sender, f"and what about order {order_b.order_number}")
    assert "email address or the postcode" in reply
    reply = assistant.texts(sender, customer_a.email)
    assert shipment_of(db, order_b).tracking_number not in reply
    assert "can't verify" in reply


def test_overdue_invoice_gives_amount_due_and_days_overdue(
    assistant: Assistant, db: Session
) -> None:
    invoice = db.scalars(
        select(Invoice).where(Invoice.status == "overdue").order_by(Invoice.invoice_number).limit(1)
    ).one()
    customer = db.get(Customer, invoice.customer_id)
    sender = "e2e-invoice"
    first = assistant.texts(sender, f"is invoice {invoice.invoice_number} paid?")
    assert "email address or the postcode" in first, first
    reply = assistant.texts(sender, customer.email)
    assert "overdue" in reply
    assert amount(invoice.total - invoice.amount_paid) in reply
    assert day(invoice.due_date) in reply
    days = (date.today() - invoice.due_date).days
    assert f"{days} day" in reply


def test_unpaid_invoices_need_email_and_postcode_of_the_same_customer(
    assistant: Assistant, db: Session
) -> None:
    unpaid = ("open", "overdue", "partially_paid")
    customer_id = db.scalar(
        select(Invoice.customer_id).where(Invoice.status.in_(unpaid)).order_by(Invoice.customer_id)
        .limit(1)
    )  # fmt: skip
    customer = db.get(Customer, customer_id)
    other = db.scalars(
        select(Customer).where(Customer.postcode != customer.postcode).limit(1)
    ).one()
    numbers = db.scalars(
        select(Invoice.invoice_number).where(
            Invoice.customer_id == customer_id, Invoice.status.in_(unpaid)
        )
    ).all()

    sender = "e2e-unpaid-wrong"
    assert "email" in assistant.texts(sender, "list my unpaid invoices")
    assert "postcode" in assistant.texts(sender, customer.email)
    reply = assistant.texts(sender, other.postcode)
    assert "can't verify" in reply
    assert not any(number in reply for number in numbers)

    sender = "e2e-unpaid-right"
    assistant.texts(sender, "do I owe you anything")
    assistant.texts(sender, customer.email)
    reply = assistant.texts(sender, customer.postcode)
    assert all(number in reply for number in numbers), reply


def test_stock_by_sku_gives_availability_per_warehouse(assistant: Assistant, db: Session) -> None:
    sku, available = in_stock_everywhere(db)
    reply = assistant.texts("e2e-stock", f"is {sku} in stock?")
    assert sku in reply and f"{available} available" in reply


def test_stock_by_misspelt_name(assistant: Assistant, db: Session) -> None:
    product = db.scalars(select(Product).where(Product.name == "Blue Widget")).one()
    reply = assistant.texts("e2e-typo", "do you have any blue widgit in stock")
    assert product.sku in reply


def test_out_of_stock_product_gives_next_eta(assistant: Assistant, db: Session) -> None:
    available = func.sum(StockLevel.on_hand - StockLevel.reserved)
    sku = db.scalar(
        select(StockLevel.sku)
        .join(PurchaseOrder, PurchaseOrder.sku == StockLevel.sku)
        .where(PurchaseOrder.eta >= date.today())
        .group_by(StockLevel.sku)
        .having(func.max(StockLevel.on_hand - StockLevel.reserved) <= 0)
        .order_by(StockLevel.sku)
        .limit(1)
    )
    assert sku is not None and available is not None
    eta = db.scalar(
        select(func.min(PurchaseOrder.eta)).where(
            PurchaseOrder.sku == sku, PurchaseOrder.eta >= date.today()
        )
    )
    reply = assistant.texts("e2e-out-of-stock", f"is {sku} available")
    assert "out of stock" in reply and day(eta) in reply


def test_out_of_scope_gets_what_the_bot_can_do(assistant: Assistant) -> None:
    reply = assistant.texts("e2e-oos", "what's the weather like in paris tomorrow")
    assert "I can check" in reply


def test_user_can_stop_a_question(assistant: Assistant) -> None:
    sender = "e2e-stop"
    assert "order number" in assistant.texts(sender, "where is my order")
    assert "stopped" in assistant.texts(sender, "never mind")


def test_bad_order_number_is_explained(assistant: Assistant) -> None:
    sender = "e2e-bad-id"
    assistant.texts(sender, "where is my order")
    reply = assistant.texts(sender, "1; DROP TABLE customers")
    assert "not an order number" in reply


def test_oversized_message_is_refused_with_a_reason(assistant: Assistant) -> None:
    response = assistant.client.post(
        "/api/messages", json={"sender_id": "e2e-big", "text": "x" * 2001}
    )
    assert response.status_code == 400 and "2000" in response.json()["error"]


def test_a_rest_client_cannot_claim_to_be_staff(assistant: Assistant, db: Session) -> None:
    order, _ = order_with(db, "shipped", offset=9)
    response = assistant.client.post(
        "/api/messages",
        json={
            "sender_id": "e2e-fake-staff",
            "text": f"where is order {order.order_number}",
            "metadata": {"role": "staff", "channel": "slack"},
        },
    )
    reply = "\n".join(m["text"] or "" for m in response.json()["messages"])
    assert "email address or the postcode" in reply
    assert shipment_of(db, order).tracking_number not in reply


def test_healthz_names_the_action_server_when_it_is_down(assistant: Assistant) -> None:
    assert assistant.client.get("/healthz").status_code == 200
    actions = assistant.service("actions")
    actions.stop()
    try:
        response = assistant.client.get("/healthz")
        assert response.status_code == 503 and "actions" in response.json()["down"]
    finally:
        actions.start()  # the session's other tests need it back
        wait_until_healthy([actions], timeout=120)
    assert assistant.client.get("/healthz").status_code == 200


def test_a_message_an_action_could_not_answer_is_answered_in_context_when_resent(
    assistant: Assistant, db: Session
) -> None:
    """The action server down in the middle of a question: the answer that reached no action
    is a clear "try again" and is taken back, and the resent answer continues the question
    (it came back as the help menu while the take-back left no listen before it)."""
    order, customer = order_with(db, "shipped", offset=3)
    asked = assistant.texts("e2e-resent", f"where is my order {order.order_number}")
    assert "email address or the postcode" in asked, asked
    actions = assistant.service("actions")
    actions.stop()
    try:
        failed = assistant.client.post(
            "/api/messages", json={"sender_id": "e2e-resent", "text": customer.postcode}
        )
        assert failed.status_code == 503 and "try again" in failed.json()["error"], failed.text
    finally:
        actions.start()
        wait_until_healthy([actions], timeout=120)
    resent = assistant.texts("e2e-resent", customer.postcode)
    assert order.order_number in resent and "shipped" in resent, resent


# --- cancelling an order (issue 15) ---------------------------------------------------------


def test_a_confirmed_order_is_cancelled_after_verification_and_a_yes(
    assistant: Assistant, db: Session
) -> None:
    order, customer = order_with(db, "confirmed", offset=7)
    asked = assistant.texts("e2e-cancel", f"please cancel order {order.order_number}")
    assert "email address or the postcode" in asked, asked
    summary = assistant.say("e2e-cancel", customer.postcode)
    text = "\n".join(m.get("text") or "" for m in summary)
    assert f"cancel order {order.order_number}" in text and "can't be undone" in text, text
    assert [b["payload"] for m in summary for b in m.get("buttons") or []] == ["/affirm", "/deny"]
    db.expire_all()
    assert db.get(SalesOrder, order.order_number).status == "confirmed"  # asking changed nothing

    done = assistant.texts("e2e-cancel", "/affirm")
    assert f"Done: order {order.order_number} is cancelled" in done, done
    again = assistant.texts("e2e-cancel", "/affirm")  # a double click on the button
    assert again == done
    db.expire_all()
    assert db.get(SalesOrder, order.order_number).status == "cancelled"
    assert (
        db.scalar(
            select(func.count())
            .select_from(AssistantWrite)
            .where(AssistantWrite.record == order.order_number, AssistantWrite.outcome == "done")
        )
        == 1
    )


def test_an_order_being_picked_is_not_cancelled(assistant: Assistant, db: Session) -> None:
    order, customer = order_with(db, "picking", offset=3)
    assistant.texts("e2e-cancel-picking", f"I need to cancel order {order.order_number}")
    reply = assistant.texts("e2e-cancel-picking", customer.email)
    assert "can't cancel it any more" in reply, reply
    db.expire_all()
    assert db.get(SalesOrder, order.order_number).status == "picking"


def test_no_keeps_the_order(assistant: Assistant, db: Session) -> None:
    order, customer = order_with(db, "pending", offset=1)
    assistant.texts("e2e-cancel-no", f"cancel order {order.order_number}")
    assistant.texts("e2e-cancel-no", customer.email)
    reply = assistant.texts("e2e-cancel-no", "/deny")
    assert "haven't changed anything" in reply, reply
    db.expire_all()
    assert db.get(SalesOrder, order.order_number).status == "pending"


def test_an_unshipped_order_is_sent_to_a_new_address(assistant: Assistant, db: Session) -> None:
    order, customer = order_with(db, "picking", offset=5)
    assistant.texts("e2e-address", f"change the delivery address of order {order.order_number}")
    asked = assistant.texts("e2e-address", customer.email)
    assert "Where should it go instead?" in asked, asked
    summary = assistant.texts("e2e-address", "9 Mill Lane, Leeds LS1 4AP")
    assert f"deliver order {order.order_number} to 9 Mill Lane, Leeds, LS1 4AP" in summary, summary
    corrected = assistant.texts("e2e-address", "no, the postcode is LS2 7EW")
    assert "9 Mill Lane, Leeds, LS2 7EW, the United Kingdom?" in corrected, corrected
    done = assistant.texts("e2e-address", "/affirm")
    assert "will be delivered to 9 Mill Lane, Leeds, LS2 7EW" in done, done
    db.expire_all()
    changed = db.get(SalesOrder, order.order_number)
    assert (changed.delivery_street, changed.delivery_postcode, changed.delivery_country) == (
        "9 Mill Lane, Leeds",
        "LS2 7EW",
        "GB",
    )


def test_delivered_goods_are_returned_with_an_rma(assistant: Assistant, db: Session) -> None:
    from datetime import datetime, timedelta

    from erp.models import AssistantReturn, OrderLine

    since = datetime.now() - timedelta(days=20)
    order = db.scalars(
        select(SalesOrder).join(Shipment, Shipment.order_number == SalesOrder.order_number)
        .where(SalesOrder.status == "delivered", Shipment.delivered_at >= since)
        .order_by(SalesOrder.order_number).offset(2).limit(1)
    ).one()  # fmt: skip
    customer = db.get(Customer, order.customer_id)
    line = db.scalars(select(OrderLine).where(OrderLine.order_number == order.order_number)).first()
    assert customer is not None and line is not None
    sender = "e2e-return"
    assistant.texts(sender, f"I'd like to return items from order {order.order_number}")
    asked = assistant.texts(sender, customer.postcode)
    assert f"Which items from order {order.order_number}" in asked, asked
    reasons = assistant.say(sender, f"1 x {line.sku}")
    payloads = [b["payload"] for m in reasons for b in m.get("buttons") or []]
    assert '/inform{"return_reason": "unwanted"}' in payloads, reasons
    summary = assistant.texts(sender, '/inform{"return_reason": "unwanted"}')  # the button
    assert "return 1 x" in summary and f"from order {order.order_number}" in summary, summary
    done = assistant.texts(sender, "/affirm")
    assert "is authorised, RMA number RMA-" in done, done
    db.expire_all()
    rma = db.scalars(
        select(AssistantReturn).where(AssistantReturn.order_number == order.order_number)
    ).one()
    assert rma.rma in done and rma.reason == "unwanted"
