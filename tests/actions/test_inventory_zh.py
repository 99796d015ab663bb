"""Stock in a Chinese conversation: the form's questions, the stock answer and the similar
products offered for one out of stock, all in Chinese."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions.alternatives import describe_alternatives, use_encoder
from actions.inventory import ActionCheckStock, ActionProductAlternatives, ValidateStockForm
from erp.alternatives import Alternatives
from erp.models import StockLevel
from i18n.texts import speaking
from tests.actions.conftest import texts, tracker
from tests.actions.test_inventory_alternatives import alternative, in_stock, out_of_stock
from tests.erp.encoders import GroupEncoder


async def test_the_stock_answer_is_in_chinese(erp_db: Session, domain: dict) -> None:
    sku, available = erp_db.execute(
        select(StockLevel.sku, func.sum(StockLevel.on_hand - StockLevel.reserved))
        .group_by(StockLevel.sku)
        .having(func.min(StockLevel.on_hand - StockLevel.reserved) > 0)
        .limit(1)
    ).one()
    dispatcher = CollectingDispatcher()
    with speaking("zh"):
        await ActionCheckStock().run(dispatcher, tracker({"sku": sku}), domain)
    reply = texts(dispatcher)
    assert reply.startswith("有货，") and f"（{sku}）目前可供 {available} 件" in reply
    assert "（不含增值税）。" in reply


async def test_the_stock_forms_questions_are_in_chinese(erp_db: Session, domain: dict) -> None:
    unknown, several, empty = CollectingDispatcher(), CollectingDispatcher(), CollectingDispatcher()
    with speaking("zh"):
        await ValidateStockForm().validate_sku("qqqzzzxx", unknown, tracker(), domain)
        await ValidateStockForm().validate_sku("widget", several, tracker(), domain)
        await ValidateStockForm().validate_sku("  ", empty, tracker(), domain)
    assert texts(unknown) == (
        "抱歉，没有找到与“qqqzzzxx”匹配的产品。请试试产品名称或产品编号（SKU，例如 WID-1001）。"
    )
    assert texts(several) == "请问您指的是哪一个？" and len(several.messages[0]["buttons"]) >= 2
    assert texts(empty) == "请告诉我产品名称或产品编号（SKU，例如 WID-1001）。"


async def test_an_out_of_stock_product_gets_similar_ones_in_chinese(
    erp_db: Session, domain: dict
) -> None:
    (sku, name, category), *_ = out_of_stock(erp_db)
    others = in_stock(erp_db, 3, category)
    use_encoder(GroupEncoder({name: 0, **{other[1]: 0 for other in others}}))

    answer, offered = CollectingDispatcher(), CollectingDispatcher()
    with speaking("zh"):
        await ActionCheckStock().run(answer, tracker({"sku": sku}), domain)
        await ActionProductAlternatives().run(offered, tracker({"sku": sku}), domain)

    first_sku, first_name, first_available = others[0]
    assert texts(answer).startswith(f"抱歉，{name}（{sku}）")
    assert f"。有货的类似产品：{first_name}（{first_sku}），可供 {first_available} 件（" in texts(
        answer
    )
    assert texts(offered).startswith(
        f"{name}（{sku}）目前缺货。有货的类似产品：{first_name}（{first_sku}），"
    )
    assert texts(offered).endswith("）。")


def test_the_alternatives_line_in_chinese() -> None:
    found = Alternatives(
        "WID-1001",
        "Steel Widget",
        0,
        (
            alternative("WID-1003", "Blue Steel Widget XL", 70, "Rotterdam", "Leipzig"),
            alternative("11", "Queso Cabrales", 22),
        ),
    )
    with speaking("zh"):
        assert describe_alternatives(found) == (
            "有货的类似产品：Blue Steel Widget XL（WID-1003），可供 70 件（Rotterdam和Leipzig）；"
            "Queso Cabrales（11），可供 22 件。"
        )
        assert describe_alternatives(Alternatives("WID-1001", "Steel Widget", 0, ())) == (
            "也没有类似的产品有货。"
        )
