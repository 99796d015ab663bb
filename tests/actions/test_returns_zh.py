"""Returns in a Chinese conversation: items picked in Chinese ("全部", "两个WID-1001",
"第二个"), a reason typed in Chinese, and every question, summary and answer in Chinese."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.changes import KEY_SLOT
from actions.returns import (
    ActionAskReturnConfirmed,
    ActionAskReturnItems,
    ActionAskReturnReason,
    ActionRequestReturn,
    ValidateReturnForm,
    pick_items,
)
from erp.models import AssistantReturn, Customer, SalesOrder, Shipment
from i18n.texts import speaking
from tests.actions.conftest import slot_events, texts, tracker, verified
from tests.actions.test_cancel import db
from tests.actions.test_returns import LINES, recently_delivered

__all__ = ["db"]

FORM = ValidateReturnForm()


@pytest.mark.parametrize(
    ("typed", "picked"),
    [
        ("全部", {"WID-1001": 20, "OFF-1007": 2}),
        ("都退了吧", {"WID-1001": 20, "OFF-1007": 2}),
        ("所有商品", {"WID-1001": 20, "OFF-1007": 2}),
        ("两个WID-1001", {"WID-1001": 2}),
        ("2个WID-1001，1个OFF-1007", {"WID-1001": 2, "OFF-1007": 1}),
        ("5个blue widgets和1个stapler", {"WID-1001": 5, "OFF-1007": 1}),
        ("第二个", {"OFF-1007": 2}),
        ("第一个退三件", {"WID-1001": 3}),
    ],
)
def test_items_are_read_in_chinese(typed: str, picked: dict[str, int]) -> None:
    assert pick_items(typed, LINES, {}) == picked


def test_corrections_and_what_cannot_be_read_in_chinese() -> None:
    assert pick_items("其实只退2个", LINES, {"WID-1001": 5}) == {"WID-1001": 2}
    with speaking("zh"):
        assert pick_items("红色的那些", LINES, {}) == "我没弄清您指的是哪些商品"
        assert pick_items("3个OFF-1007", LINES, {}) == (
            "Stapler Heavy Duty最多可以退 2 件，不能退 3 件"
        )
        assert pick_items("全部", [], {}) == "这个订单上已经没有可退的商品了"


async def test_a_chinese_customer_returns_items_in_chinese(db: Session, domain: dict) -> None:
    order, customer, lines = recently_delivered(db)
    sku = next(iter(lines))
    base = {"order_number": order.order_number, **verified(customer.id, "postcode")}

    asked = CollectingDispatcher()
    with speaking("zh"):
        await ActionAskReturnItems().run(asked, tracker(base), domain)
    question = texts(asked)
    assert question.startswith(f"您想退订单 {order.order_number} 中的哪些商品？订单上的商品：1. ")
    assert "。您可以回复例如“2 x " in question and question.endswith("”或“全部”。")
    assert asked.messages[0]["buttons"][-1] == {"title": "全部", "payload": "all"}

    typed = f"退1个{sku}"
    with speaking("zh"):
        items = await FORM.validate_return_items(
            typed, CollectingDispatcher(), tracker(base, text=typed), domain
        )
    assert json.loads(items["return_items"]) == {sku: 1}

    reasons = CollectingDispatcher()
    with speaking("zh"):
        await ActionAskReturnReason().run(reasons, tracker(base), domain)
    assert texts(reasons) == "请问退货的原因是什么？"
    titles = [b["title"] for b in reasons.messages[0]["buttons"]]
    assert titles[0] == "不想要了：未开封，可再次销售" and len(titles) == 4

    with speaking("zh"):
        reason = await FORM.validate_return_reason(
            "收到的尺码不对", CollectingDispatcher(), tracker(base), domain
        )
    assert reason["return_reason"] == "wrong_size"

    filled = {**base, "return_items": items["return_items"], "return_reason": "wrong_size"}
    summary = CollectingDispatcher()
    with speaking("zh"):
        events = await ActionAskReturnConfirmed().run(summary, tracker(filled), domain)
    shown = texts(summary)
    assert shown.startswith(f"请确认：退回订单 {order.order_number} 中的 1 x ")
    assert shown.endswith(f"（{sku}），原因：未穿戴过的劳保用品，尺码不对，需要换尺码？")
    assert [b["title"] for b in summary.messages[0]["buttons"]] == ["是的，退货", "不"]

    done = CollectingDispatcher()
    confirmed = {**filled, KEY_SLOT: slot_events(events)[KEY_SLOT], "return_confirmed": "yes"}
    with speaking("zh"):
        await ActionRequestReturn().run(done, tracker(confirmed), domain)
    rma = db.scalars(
        select(AssistantReturn).where(AssistantReturn.order_number == order.order_number)
    ).one()
    answer = texts(done)
    assert answer.startswith(
        f"已完成：订单 {order.order_number} 的退货已获授权，RMA 号为 {rma.rma}。"
        "请把这个 RMA 号写在每个箱子的外面，并安排寄回，确保货物在"
    )
    assert "日之前送达我们这里。我们的退货政策说明了相关费用和退款事宜：https://" in answer


@pytest.mark.parametrize(
    ("typed", "code"),
    [("第二个", "opened_tool"), ("3", "wrong_size"), ("没拆封，不想要了", "unwanted"),
     ("电动工具拆开了但没用过", "opened_tool"), ("特别订购的", "special_order")],
)  # fmt: skip
async def test_reasons_typed_in_chinese(domain: dict, typed: str, code: str) -> None:
    with speaking("zh"):
        result = await FORM.validate_return_reason(typed, CollectingDispatcher(), tracker(), domain)
    assert result["return_reason"] == code


async def test_a_reason_that_is_none_of_them_is_asked_again_in_chinese(domain: dict) -> None:
    dispatcher = CollectingDispatcher()
    with speaking("zh"):
        result = await FORM.validate_return_reason("买多了", dispatcher, tracker(), domain)
    assert result == {"return_reason": None}
    assert texts(dispatcher) == "抱歉，请从下面的原因中选择一个。"


async def test_refusals_and_a_no_in_chinese(db: Session, domain: dict) -> None:
    shipped = db.scalars(select(SalesOrder).where(SalesOrder.status == "shipped").limit(1)).one()
    owner = db.get(Customer, shipped.customer_id)
    said = CollectingDispatcher()
    state = tracker({"order_number": shipped.order_number}, text=owner.email)
    with speaking("zh"):
        checked = await FORM.validate_identity(owner.email, said, state, domain)
    assert checked["return_confirmed"] == "refused"
    assert texts(said) == (
        f"订单 {shipped.order_number} 还没有送达，所以暂时无法退货。我们接受送达后 30 天内的退货。"
    )

    old = db.scalars(
        select(SalesOrder).join(Shipment, Shipment.order_number == SalesOrder.order_number)
        .where(SalesOrder.status == "delivered",
               Shipment.delivered_at < datetime.now() - timedelta(days=60)).limit(1)
    ).one()  # fmt: skip
    late = CollectingDispatcher()
    customer = db.get(Customer, old.customer_id)
    with speaking("zh"):
        await FORM.validate_identity(
            customer.email, late, tracker({"order_number": old.order_number}, text=customer.email),
            domain,
        )  # fmt: skip
    assert texts(late).startswith(f"订单 {old.order_number} 已于")
    assert "送达；我们接受送达后 30 天内的退货，也就是截至" in texts(late)

    kept = CollectingDispatcher()
    base = {"order_number": old.order_number, **verified(customer.id, "email")}
    with speaking("zh"):
        await ActionRequestReturn().run(kept, tracker({**base, "return_confirmed": "no"}), domain)
    assert texts(kept) == "好的，我没有安排任何退货。"
