"""Changing the delivery address in a Chinese conversation: Chinese lead-ins ("我的邮编是"),
countries named in Chinese, a plain Chinese no, and every reply in Chinese."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.address import (
    ActionAskAddressConfirmed,
    ActionAskNewCountry,
    ActionChangeAddress,
    ValidateChangeAddressForm,
    is_plain_no,
)
from actions.changes import KEY_SLOT
from i18n.texts import speaking
from tests.actions.conftest import slot_events, texts, tracker, verified
from tests.actions.test_address import delivery_of, set_earlier
from tests.actions.test_cancel import an_order, db

__all__ = ["db"]

FORM = ValidateChangeAddressForm()


async def validated_zh(slot: str, value: str, slots: dict, domain: dict) -> tuple[dict, str]:
    dispatcher = CollectingDispatcher()
    with speaking("zh"):
        result = await getattr(FORM, f"validate_{slot}")(
            value, dispatcher, tracker(slots, text=value), domain
        )
    return result, texts(dispatcher)


async def test_a_chinese_customer_changes_the_address_in_chinese(db: Session, domain: dict) -> None:
    order, customer = an_order(db, "picking")
    base = {"order_number": order.order_number, **verified(customer.id, "email")}

    street, said = await validated_zh(
        "new_street", "新地址是：7 Canal Street, Manchester", base, domain
    )
    assert street["new_street"] == "7 Canal Street, Manchester" and said == ""
    postcode, said = await validated_zh("new_postcode", "我的邮编是 m1 3he。", base, domain)
    assert (postcode["new_postcode"], postcode["new_country"]) == ("M1 3HE", "GB")

    filled = {**base, **street, **postcode}
    asked = CollectingDispatcher()
    with speaking("zh"):
        events = await ActionAskAddressConfirmed().run(asked, tracker(filled), domain)
    assert texts(asked) == (
        f"请确认：把订单 {order.order_number} 改送到 7 Canal Street, Manchester, M1 3HE, 英国？"
    )
    assert [b["title"] for b in asked.messages[0]["buttons"]] == ["是的，修改地址", "不"]

    done = CollectingDispatcher()
    confirmed = {**filled, KEY_SLOT: slot_events(events)[KEY_SLOT], "address_confirmed": "yes"}
    with speaking("zh"):
        await ActionChangeAddress().run(done, tracker(confirmed), domain)
    assert texts(done) == (
        f"已完成：订单 {order.order_number} 将送到 7 Canal Street, Manchester, M1 3HE, 英国。"
    )
    assert delivery_of(db, order.order_number) == ("7 Canal Street, Manchester", "M1 3HE", "GB")


@pytest.mark.parametrize(
    ("typed", "code"), [("荷兰", "NL"), ("送到德国", "DE"), ("是英国的", "GB"), ("NL", "NL")]
)
async def test_countries_named_in_chinese(domain: dict, typed: str, code: str) -> None:
    result, said = await validated_zh("new_country", typed, {}, domain)
    assert result["new_country"] == code and said == ""


async def test_what_is_wrong_with_a_typed_address_is_said_in_chinese(domain: dict) -> None:
    result, said = await validated_zh("new_country", "法国", {}, domain)
    assert result == {"new_country": None}
    assert (
        said
        == "抱歉，法国 不是我们送货的国家。我们只送货到英国、荷兰和德国，请告诉我是其中哪个国家。"
    )
    result, said = await validated_zh("new_postcode", "邮编是 SW1A", {"new_country": "GB"}, domain)
    assert result == {"new_postcode": None}
    assert said == "抱歉，SW1A 不是英国的邮编，那里的邮编格式类似 M1 4BT。"
    result, said = await validated_zh("new_street", "12", {}, domain)
    assert result == {"new_street": None} and said.startswith("抱歉，12 看起来不像街道地址。")
    result, said = await validated_zh("new_country", "德国", {"new_postcode": "M1 3HE"}, domain)
    assert result["new_country"] == "DE" and result["new_postcode"] is None
    assert said == "德国的邮编格式类似 10115。请问邮编是多少？"
    asked = CollectingDispatcher()
    with speaking("zh"):
        await ActionAskNewCountry().run(asked, tracker(), domain)
    assert texts(asked) == "请问在哪个国家？我们送货到英国、荷兰或德国。"


@pytest.mark.parametrize(
    ("typed", "plain"),
    [("不", True), ("不用了", True), ("不，谢谢", True), ("不，保持原样。", True),
     ("不，是另一个地址", False), ("不，邮编是 M1 4BT", False), ("no thanks", True)],
)  # fmt: skip
def test_a_plain_chinese_no_is_only_a_no(typed: str, plain: bool) -> None:
    assert is_plain_no(typed) is plain


async def test_a_chinese_no_keeps_the_address_and_another_asks_again(
    db: Session, domain: dict
) -> None:
    order, customer = an_order(db, "confirmed")
    filled = {"order_number": order.order_number, "new_street": "7 Canal Street, Manchester",
              "new_postcode": "M1 3HE", "new_country": "GB",
              **verified(customer.id, "email")}  # fmt: skip
    slots = ("new_street", "new_postcode", "new_country")
    plain = set_earlier(tracker({**filled, "address_confirmed": "no"}, text="不用了，谢谢"), *slots)
    assert await FORM.validate_address_confirmed("no", CollectingDispatcher(), plain, domain) == {
        "address_confirmed": "no"
    }
    other = set_earlier(
        tracker({**filled, "address_confirmed": "no"}, text="不，是另一个地址"), *slots
    )
    again = await FORM.validate_address_confirmed("no", CollectingDispatcher(), other, domain)
    assert again["new_street"] is None and again["address_confirmed"] is None

    kept = CollectingDispatcher()
    before = delivery_of(db, order.order_number)
    with speaking("zh"):
        await ActionChangeAddress().run(
            kept, tracker({**filled, "address_confirmed": "no"}), domain
        )
    assert texts(kept) == f"好的，我没有做任何更改：订单 {order.order_number} 仍按原地址配送。"
    assert delivery_of(db, order.order_number) == before


async def test_a_shipped_order_is_refused_in_chinese(db: Session, domain: dict) -> None:
    order, customer = an_order(db, "shipped")
    dispatcher = CollectingDispatcher()
    state = tracker({"order_number": order.order_number}, text=customer.email)
    with speaking("zh"):
        checked = await FORM.validate_identity(customer.email, dispatcher, state, domain)
    assert checked["address_confirmed"] == "refused"
    assert texts(dispatcher).startswith(
        f"订单 {order.order_number} 已发货，收货地址已经无法再修改了。"
    )


async def test_english_lead_ins_work_too(domain: dict) -> None:
    dispatcher = CollectingDispatcher()
    result = await FORM.validate_new_postcode(
        "my postcode is 1012 ab", dispatcher, tracker(text="my postcode is 1012 ab"), domain
    )
    assert (result["new_postcode"], result["new_country"]) == ("1012 AB", "NL")
