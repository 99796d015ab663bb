"""The conversation's language: detected per message, kept for ids, switched and kept on
request; answers, prompts and errors in it."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.language import ValidateSlotMappings
from actions.metrics import ActionMetrics, ObservedExecutor
from actions.orders import ActionAskOrderNumber, ActionOrderStatus, ValidateOrderForm
from erp.models import Customer, SalesOrder, Shipment
from i18n.texts import current_language, speaking
from tests.actions.conftest import slot_events, texts, tracker, verified


def turn(
    text: str,
    *,
    slots: dict[str, Any] | None = None,
    intent: str = "inform",
    entities: list[dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Tracker:
    state = tracker(slots, text=text, intent=intent, metadata=metadata)
    state.latest_message["entities"] = entities or []
    return state


async def language_slots(state: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
    events = await ValidateSlotMappings().run(CollectingDispatcher(), state, domain)
    return slot_events(events)


@pytest.mark.parametrize(
    ("text", "before", "after"),
    [
        ("请问我的订单 SO-100123 状态如何？", "en", "zh"),
        ("WID-1001有货吗", None, "zh"),
        ("where is my order?", "zh", "en"),
        ("SO-100123", "zh", "zh"),  # only an id: the conversation keeps its language
        ("SO-100123", None, "en"),
    ],
)
async def test_each_message_sets_the_language_and_ids_keep_it(
    text: str, before: str | None, after: str, domain: dict[str, Any]
) -> None:
    slots = await language_slots(turn(text, slots={"language": before}), domain)
    assert slots["language"] == after
    assert "language_chosen" not in slots


async def test_the_clients_hint_decides_a_first_message_of_only_an_id(domain: dict) -> None:
    slots = await language_slots(turn("SO-100123", metadata={"language": "zh-CN"}), domain)
    assert slots["language"] == "zh"


async def test_asking_for_a_language_switches_and_keeps_it_whatever_is_written_next(
    domain: dict[str, Any],
) -> None:
    asked = turn(
        "请用英文回答",
        intent="switch_language",
        entities=[{"entity": "language", "value": "en"}],
        slots={"language": "zh"},
    )
    assert await language_slots(asked, domain) == {"language": "en", "language_chosen": "en"}
    later = turn("我的订单到哪了", slots={"language": "en", "language_chosen": "en"})
    assert (await language_slots(later, domain))["language"] == "en"
    back = turn(
        "说中文吧",
        intent="switch_language",
        entities=[{"entity": "language", "value": "zh"}],
        slots={"language": "en", "language_chosen": "en"},
    )
    assert await language_slots(back, domain) == {"language": "zh", "language_chosen": "zh"}


async def test_a_switch_naming_no_language_turns_to_the_other_one(domain: dict) -> None:
    asked = turn("other language please", intent="switch_language", slots={"language": "en"})
    assert (await language_slots(asked, domain))["language"] == "zh"


async def test_the_action_server_answers_in_the_language_slot(domain: dict[str, Any]) -> None:
    heard: list[str] = []

    class ActionHear(Action):
        def name(self) -> str:
            return "action_hear"

        async def run(self, dispatcher: Any, tracker: Tracker, domain: Any) -> list[Any]:
            heard.append(current_language())
            return []

    executor = ObservedExecutor(ActionMetrics())
    executor.register_action(ActionHear())
    for language in ("zh", "en", "fr", None):
        state = tracker({"language": language})
        await executor.run(
            {"next_action": "action_hear", "sender_id": state.sender_id,
             "tracker": state.current_state(), "domain": domain}
        )  # fmt: skip
    assert heard == ["zh", "en", "en", "en"]
    assert current_language() == "en"


async def test_a_chinese_customer_gets_the_order_in_chinese(
    erp_db: Session, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    order = erp_db.scalars(select(SalesOrder).where(SalesOrder.status == "shipped").limit(1)).one()
    customer = erp_db.get(Customer, order.customer_id)
    assert customer is not None
    shipment = erp_db.scalars(
        select(Shipment).where(Shipment.order_number == order.order_number)
    ).one()
    with speaking("zh"):
        await ActionOrderStatus().run(
            dispatcher, tracker({"order_number": order.order_number, **verified(customer.id)}),
            domain,
        )  # fmt: skip
    reply = texts(dispatcher)
    assert reply.startswith(f"您的订单 {order.order_number}") and "已发货" in reply
    assert shipment.tracking_number in reply
    eta = shipment.estimated_delivery
    assert f"{eta.year}年{eta.month}月{eta.day}日" in reply


async def test_prompts_and_errors_are_in_the_language_spoken(
    dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    with speaking("zh"):
        await ActionAskOrderNumber().run(dispatcher, tracker(), domain)
        result = await ValidateOrderForm().validate_order_number(
            "ＳＯ－１２", dispatcher, tracker(), domain
        )
    assert result == {"order_number": None}
    asked, refused = (m["text"] for m in dispatcher.messages)
    assert asked.startswith("请问是哪个订单？") and "SO-100123" in asked
    assert refused == "抱歉，ＳＯ－１２ 不是有效的订单号。请核对后再发给我。"
