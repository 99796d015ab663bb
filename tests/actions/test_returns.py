"""Returning delivered goods through the actions: items picked by code, name, number or
"all", a reason from the company's list, corrections while confirming, refusals outside the
window or before delivery, and the RMA issued once; the database checked afterwards."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.changes import KEY_SLOT, LAST_WRITE_SLOT, ActionRepeatWrite
from actions.returns import (
    ActionAskReturnConfirmed,
    ActionAskReturnItems,
    ActionAskReturnReason,
    ActionRequestReturn,
    ValidateReturnForm,
    pick_items,
)
from erp.models import (
    AssistantReturn,
    AssistantReturnLine,
    Customer,
    OrderLine,
    SalesOrder,
    Shipment,
)
from erp.returns import ReturnableLine
from tests.actions.conftest import slot_events, texts, tracker, verified
from tests.actions.test_cancel import db

__all__ = ["db"]

FORM = ValidateReturnForm()
LINES = [
    ReturnableLine("WID-1001", "Blue Steel Widget", 20, 20),
    ReturnableLine("OFF-1007", "Stapler Heavy Duty", 2, 2),
]


def recently_delivered(
    db: Session, within_days: int = 10
) -> tuple[SalesOrder, Customer, dict[str, int]]:
    since = datetime.combine(date.today() - timedelta(days=within_days), datetime.min.time())
    order = db.scalars(
        select(SalesOrder).join(Shipment, Shipment.order_number == SalesOrder.order_number)
        .where(SalesOrder.status == "delivered", Shipment.delivered_at >= since).limit(1)
    ).one()  # fmt: skip
    lines: dict[str, int] = {}
    for line in db.scalars(select(OrderLine).where(OrderLine.order_number == order.order_number)):
        lines[line.sku] = lines.get(line.sku, 0) + line.quantity
    return order, db.get(Customer, order.customer_id), lines


def test_items_are_read_by_code_name_number_or_all() -> None:
    assert pick_items("2 x WID-1001", LINES, {}) == {"WID-1001": 2}
    assert pick_items("the stapler", LINES, {}) == {"OFF-1007": 2}
    assert pick_items("5 blue widgets and 1 stapler", LINES, {}) == {"WID-1001": 5, "OFF-1007": 1}
    assert pick_items("all", LINES, {}) == {"WID-1001": 20, "OFF-1007": 2}
    assert pick_items("2", LINES, {}) == {"OFF-1007": 2}  # the second line of the list shown
    assert pick_items("the red ones", LINES, {}) == "I couldn't tell which items you mean"
    # "Actually, only 2 of them": the one line picked already.
    assert pick_items("actually, only 2 of them", LINES, {"WID-1001": 5}) == {"WID-1001": 2}
    assert "up to 2, not 3" in str(pick_items("3 staplers", LINES, {}))
    assert (
        pick_items("1; DROP TABLE orders", LINES, {}) == "I couldn't read that as a list of items"
    )


async def test_a_delivered_order_is_returned_with_an_rma_once(db: Session, domain: dict) -> None:
    order, customer, lines = recently_delivered(db)
    sku, quantity = next(iter(lines.items()))
    proof = verified(customer.id, "postcode", records=(order.order_number,))
    base = {"order_number": order.order_number, **proof}

    asked = CollectingDispatcher()
    await ActionAskReturnItems().run(asked, tracker(base), domain)
    assert f"Which items from order {order.order_number}" in texts(asked)
    assert asked.messages[0]["buttons"][-1] == {"title": "Everything", "payload": "all"}

    typed = f"1 x {sku}"
    items = await FORM.validate_return_items(
        typed, CollectingDispatcher(), tracker(base, text=typed), domain
    )
    assert json.loads(items["return_items"]) == {sku: 1}
    reasons = CollectingDispatcher()
    await ActionAskReturnReason().run(reasons, tracker(base), domain)
    payloads = [b["payload"] for b in reasons.messages[0]["buttons"]]
    assert '/inform{"return_reason": "unwanted"}' in payloads
    reason = await FORM.validate_return_reason(
        "unwanted", CollectingDispatcher(), tracker(base), domain
    )
    assert reason["return_reason"] == "unwanted"

    filled = {**base, "return_items": items["return_items"], "return_reason": "unwanted"}
    summary = CollectingDispatcher()
    events = await ActionAskReturnConfirmed().run(summary, tracker(filled), domain)
    assert "return 1 x" in texts(summary) and f"({sku}) from order {order.order_number}" in texts(
        summary
    )
    confirmed = {**filled, KEY_SLOT: slot_events(events)[KEY_SLOT], "return_confirmed": "yes"}
    done = CollectingDispatcher()
    answered = await ActionRequestReturn().run(done, tracker(confirmed), domain)
    assert "is authorised, RMA number RMA-" in texts(done)
    assert "Write it on the outside of every box" in texts(done)
    assert "https://help.northbridge-supply.example/policies/returns-and-refunds" in texts(done)

    again = CollectingDispatcher()
    await ActionRepeatWrite().run(
        again, tracker({LAST_WRITE_SLOT: slot_events(answered)[LAST_WRITE_SLOT], **proof}), domain
    )
    assert texts(again) == texts(done)
    rma = db.scalars(
        select(AssistantReturn).where(AssistantReturn.order_number == order.order_number)
    ).one()
    assert rma.rma in texts(done) and rma.reason == "unwanted"
    assert [(r.sku, r.quantity) for r in db.scalars(select(AssistantReturnLine))] == [(sku, 1)]
    assert quantity >= 1


async def test_a_correction_while_confirming_changes_the_items(db: Session, domain: dict) -> None:
    order, customer, lines = recently_delivered(db)
    sku, quantity = max(lines.items(), key=lambda item: item[1])
    proof = verified(customer.id, "postcode", records=(order.order_number,))
    state = tracker(
        {"order_number": order.order_number, "return_items": json.dumps({sku: quantity}), **proof},
        text="actually, only 1 of them",
        requested_slot="return_confirmed",
    )
    result = await FORM.validate_return_items(
        "actually, only 1 of them", CollectingDispatcher(), state, domain
    )
    assert json.loads(result["return_items"]) == {sku: 1} and result["return_confirmed"] is None


async def test_returns_outside_the_window_or_undelivered_are_refused_first(
    db: Session, domain: dict
) -> None:
    old = db.scalars(
        select(SalesOrder).join(Shipment, Shipment.order_number == SalesOrder.order_number)
        .where(SalesOrder.status == "delivered",
               Shipment.delivered_at < datetime.now() - timedelta(days=60)).limit(1)
    ).one()  # fmt: skip
    customer = db.get(Customer, old.customer_id)
    dispatcher = CollectingDispatcher()
    state = tracker({"order_number": old.order_number}, text=customer.email)
    checked = await FORM.validate_identity(customer.email, dispatcher, state, domain)
    assert checked["return_confirmed"] == "refused"
    assert "returns are accepted within 30 days of delivery" in texts(dispatcher)
    assert await FORM.required_slots([], CollectingDispatcher(), tracker({**checked}), domain) == []

    shipped = db.scalars(select(SalesOrder).where(SalesOrder.status == "shipped").limit(1)).one()
    owner = db.get(Customer, shipped.customer_id)
    said = CollectingDispatcher()
    state = tracker({"order_number": shipped.order_number}, text=owner.email)
    checked = await FORM.validate_identity(owner.email, said, state, domain)
    assert checked["return_confirmed"] == "refused" and "hasn't been delivered yet" in texts(said)
