"""Cancelling an order in a Chinese conversation: the summary, its buttons, the outcome,
the refusals and the hand-over to a colleague, all in Chinese; the database as in English."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.cancel import ActionAskCancelConfirmed, ActionCancelOrder, ValidateCancelOrderForm
from actions.changes import KEY_SLOT, order_status
from erp.models import OrderLine
from erp.schema import forget_schemas
from i18n.texts import say, speaking
from tests.actions.conftest import as_staff, slot_events, texts, tracker, verified
from tests.actions.test_cancel import MAPPINGS, an_order, db, status_of

__all__ = ["db"]


async def test_a_chinese_customer_confirms_and_cancels_in_chinese(
    db: Session, domain: dict
) -> None:
    order, customer = an_order(db, "confirmed")
    proof = verified(customer.id, "email", records=(order.order_number,))
    base = {"order_number": order.order_number, **proof}
    lines = db.query(OrderLine).filter(OrderLine.order_number == order.order_number).count()

    asked = CollectingDispatcher()
    with speaking("zh"):
        events = await ActionAskCancelConfirmed().run(asked, tracker(base), domain)
    placed = order.order_date
    summary = texts(asked)
    assert summary.startswith(
        f"请确认：取消订单 {order.order_number}（"
        f"{placed.year}年{placed.month}月{placed.day}日下单，{lines} 项商品，"
    )
    assert summary.endswith("）？取消后无法恢复。") and ("€" in summary or "£" in summary)
    assert [b["title"] for b in asked.messages[0]["buttons"]] == ["是的，取消订单", "不，保留订单"]

    done = CollectingDispatcher()
    with speaking("zh"):
        await ActionCancelOrder().run(
            done,
            tracker({**base, KEY_SLOT: slot_events(events)[KEY_SLOT], "cancel_confirmed": "yes"}),
            domain,
        )
    assert (
        texts(done) == f"已完成：订单 {order.order_number} 已取消，不会发货，也不会收取任何费用。"
    )
    assert status_of(db, order.order_number) == "cancelled"


@pytest.mark.parametrize(
    ("status", "said"),
    [("shipped", "已发货，所以已经无法取消了"), ("cancelled", "已经取消了，无需再做任何操作")],
)
async def test_an_order_past_confirmed_is_refused_in_chinese(
    db: Session, domain: dict, status: str, said: str
) -> None:
    order, customer = an_order(db, status)
    dispatcher = CollectingDispatcher()
    state = tracker({"order_number": order.order_number}, text=customer.email)
    with speaking("zh"):
        checked = await ValidateCancelOrderForm().validate_identity(
            customer.email, dispatcher, state, domain
        )
    assert checked["cancel_confirmed"] == "refused"
    assert texts(dispatcher).startswith(f"订单 {order.order_number} {said}")


async def test_a_no_and_a_lost_confirmation_are_said_in_chinese(db: Session, domain: dict) -> None:
    order, customer = an_order(db, "pending")
    base = {"order_number": order.order_number, **verified(customer.id, "email")}
    kept, lost = CollectingDispatcher(), CollectingDispatcher()
    with speaking("zh"):
        await ActionCancelOrder().run(kept, tracker({**base, "cancel_confirmed": "no"}), domain)
        await ActionCancelOrder().run(lost, tracker({**base, "cancel_confirmed": "yes"}), domain)
    assert texts(kept) == f"好的，我没有做任何更改：订单 {order.order_number} 保持不变。"
    assert texts(lost).startswith("抱歉，我没能记住您确认的内容，所以没有做任何更改。")
    assert status_of(db, order.order_number) == "pending"


async def test_staff_without_the_writer_role_and_an_erp_without_the_write_in_chinese(
    db: Session, domain: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    order, _ = an_order(db, "pending")
    looker = CollectingDispatcher()
    with speaking("zh"):
        await ValidateCancelOrderForm().run(
            looker,
            as_staff(
                tracker({"order_number": order.order_number}, active_loop="cancel_order_form")
            ),
            domain,
        )
    assert texts(looker).startswith("您的员工账户可以查询订单，但不能替客户取消订单。")

    monkeypatch.setenv("ERP_MAPPING", str(MAPPINGS / "northwind.yml"))
    forget_schemas()  # a process reads its mapping once: switching it is forgetting the schemas
    handed = CollectingDispatcher()
    with speaking("zh"):
        await ValidateCancelOrderForm().run(
            handed,
            tracker(
                {"order_number": "10248"}, text="取消订单10248", active_loop="cancel_order_form"
            ),
            domain,
        )
    assert texts(handed) == (
        "我无法在这里直接取消订单，所以我会把您的请求连同详细信息转给同事，他们会尽快回复您。"
    )
    handoff = next(m["custom"]["handoff"] for m in handed.messages if m.get("custom"))
    assert handoff["detail"] == "asked to cancel order 10248"  # a colleague reads English


def test_statuses_read_as_the_order_sentence_needs_them() -> None:
    assert order_status("on_hold") == "on hold" and order_status("backordered") == "backordered"
    with speaking("zh"):
        assert order_status("picking") == "正在拣货打包"
        assert order_status("backordered") == "处于“backordered”状态"
    assert say("change.status.on_hold", "zh") == "处于暂停状态"
