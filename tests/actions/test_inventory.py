"""The stock form (finding the product) and the stock answer, against a seeded ERP."""

from __future__ import annotations

from datetime import date

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions.inventory import ActionCheckStock, ValidateStockForm, wanted_quantity
from erp.models import Product, PurchaseOrder, StockLevel
from tests.actions.conftest import slot_events, texts, tracker


async def test_misspelt_name_finds_the_product(erp_db: Session, domain: dict) -> None:
    sku = erp_db.scalar(select(Product.sku).where(Product.name == "Blue Widget"))
    result = await ValidateStockForm().validate_sku(
        "blue widgit", CollectingDispatcher(), tracker(), domain
    )
    assert result == {"sku": sku}


async def test_sku_in_lower_case_finds_the_product(erp_db: Session, domain: dict) -> None:
    sku = erp_db.scalar(select(Product.sku).order_by(Product.sku).limit(1))
    result = await ValidateStockForm().validate_sku(
        sku.lower().replace("-", ""), CollectingDispatcher(), tracker(), domain
    )
    assert result == {"sku": sku}


async def test_unknown_product_is_explained(
    erp_db: Session, dispatcher: CollectingDispatcher, domain: dict
) -> None:
    result = await ValidateStockForm().validate_sku("qqqzzzxx", dispatcher, tracker(), domain)
    assert result == {"sku": None}
    assert "couldn't find a product" in texts(dispatcher)


async def test_ambiguous_name_offers_buttons(
    erp_db: Session, dispatcher: CollectingDispatcher, domain: dict
) -> None:
    result = await ValidateStockForm().validate_sku("widget", dispatcher, tracker(), domain)
    assert result == {"sku": None}
    buttons = dispatcher.messages[0]["buttons"]
    assert len(buttons) >= 2
    assert all(b["payload"].startswith('/inform{"sku": "') for b in buttons)


async def test_stock_answer_gives_availability_per_warehouse(
    erp_db: Session, dispatcher: CollectingDispatcher, domain: dict
) -> None:
    sku, available = erp_db.execute(
        select(StockLevel.sku, func.sum(StockLevel.on_hand - StockLevel.reserved))
        .group_by(StockLevel.sku)
        .having(func.min(StockLevel.on_hand - StockLevel.reserved) > 0)
        .limit(1)
    ).one()
    await ActionCheckStock().run(dispatcher, tracker({"sku": sku}), domain)
    assert f"{available} available" in texts(dispatcher)


async def test_out_of_stock_answer_gives_next_eta(
    erp_db: Session, dispatcher: CollectingDispatcher, domain: dict
) -> None:
    sku = erp_db.scalar(
        select(StockLevel.sku)
        .join(PurchaseOrder, PurchaseOrder.sku == StockLevel.sku)
        .where(PurchaseOrder.eta >= date.today())
        .group_by(StockLevel.sku)
        .having(func.max(StockLevel.on_hand - StockLevel.reserved) <= 0)
        .limit(1)
    )
    eta = erp_db.scalar(
        select(func.min(PurchaseOrder.eta)).where(
            PurchaseOrder.sku == sku, PurchaseOrder.eta >= date.today()
        )
    )
    await ActionCheckStock().run(dispatcher, tracker({"sku": sku}), domain)
    reply = texts(dispatcher)
    assert "out of stock" in reply and f"{eta.day} {eta:%b %Y}" in reply


async def test_requested_quantity_is_compared_with_stock(
    erp_db: Session, dispatcher: CollectingDispatcher, domain: dict
) -> None:
    sku, available = erp_db.execute(
        select(StockLevel.sku, func.sum(StockLevel.on_hand - StockLevel.reserved))
        .group_by(StockLevel.sku)
        .having(func.min(StockLevel.on_hand - StockLevel.reserved) > 0)
        .limit(1)
    ).one()
    await ActionCheckStock().run(
        dispatcher, tracker({"sku": sku, "quantity": available + 1}), domain
    )
    assert "not enough" in texts(dispatcher)


@pytest.mark.parametrize(
    ("value", "wanted"),
    [
        (20, 20),
        (20.0, 20),
        ("20", 20),
        ("20 FAS", 20),  # the NLU took part of a SKU with the number
        (" 7 units", 7),
        ("２０", 20),
        (["5", "9"], 5),
        (None, None),
        ("", None),
        (2.5, None),
        ("2.5", None),
        ("-3", None),
        (0, None),
        (float("nan"), None),
        (float("inf"), None),
        (1e9, None),
        ("99999999", None),
        ("twenty", None),
        (True, None),
    ],
)
def test_only_a_positive_whole_quantity_is_wanted(value: object, wanted: int | None) -> None:
    assert wanted_quantity(value) == wanted


async def test_an_odd_quantity_gets_the_plain_stock_answer(
    erp_db: Session, dispatcher: CollectingDispatcher, domain: dict
) -> None:
    sku = erp_db.scalar(select(Product.sku).where(Product.name == "Blue Widget"))
    await ActionCheckStock().run(dispatcher, tracker({"sku": sku, "quantity": "20 FAS"}), domain)
    plain = CollectingDispatcher()
    await ActionCheckStock().run(plain, tracker({"sku": sku}), domain)
    assert texts(dispatcher).startswith("Yes, we can supply 20")
    assert "Blue Widget" in texts(plain)


async def run_form(message: str, dispatcher: CollectingDispatcher, domain: dict) -> dict:
    """The stock form's validation as Rasa runs it when a question opens the form."""
    events = await ValidateStockForm().run(
        dispatcher, tracker(text=message, intent="check_stock"), domain
    )
    return slot_events(events)


async def test_a_product_named_in_the_question_fills_the_form(
    erp_db: Session, dispatcher: CollectingDispatcher, domain: dict
) -> None:
    sku = erp_db.scalar(select(Product.sku).where(Product.name == "Blue Titanium Widget"))
    slots = await run_form("got any blue titanum widgets left?", dispatcher, domain)
    assert slots == {"sku": sku}
    assert dispatcher.messages == []


async def test_a_question_naming_no_product_is_left_to_the_form(
    erp_db: Session, dispatcher: CollectingDispatcher, domain: dict
) -> None:
    assert await run_form("is it in stock?", dispatcher, domain) == {}
    assert dispatcher.messages == []


async def test_several_products_in_the_question_offer_buttons(
    erp_db: Session, dispatcher: CollectingDispatcher, domain: dict
) -> None:
    slots = await run_form("do you have black widgets", dispatcher, domain)
    assert slots == {"sku": None}
    titles = [button["title"] for button in dispatcher.messages[0]["buttons"]]
    assert len(titles) >= 2 and all("Black" in title for title in titles)


async def test_a_partial_entity_is_completed_from_the_message(
    erp_db: Session, dispatcher: CollectingDispatcher, domain: dict
) -> None:
    sku = erp_db.scalar(select(Product.sku).where(Product.name == "Blue Titanium Widget"))
    result = await ValidateStockForm().validate_sku(
        "widget", dispatcher, tracker(text="is the blue titanium widget in stock"), domain
    )
    assert result == {"sku": sku}


@pytest.mark.parametrize(
    "message",
    ["'; DROP TABLE products; --", "widget " * 300, "🦄📦🔥", "\x00\x1b[2J\x07"],
    ids=["sql", "2100-chars", "emoji", "control"],
)
async def test_hostile_questions_are_left_to_the_form(
    erp_db: Session, dispatcher: CollectingDispatcher, domain: dict, message: str
) -> None:
    assert await run_form(message, dispatcher, domain) == {}
    assert dispatcher.messages == []
