"""Staff insights in Chinese (staff may write Chinese in Slack): the forecast, the ageing, a
customer's balance named in Chinese, and what a customer asking is told."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.insights import (
    ActionCustomerBalance,
    ActionReceivablesAgeing,
    ActionStockForecast,
    ValidateForecastForm,
    describe_ageing,
)
from erp.models import Product
from erp.receivables import Ageing, Balances, Bucket, CustomerAgeing
from i18n.texts import speaking
from tests.actions.conftest import as_staff, texts, tracker
from tests.actions.test_insights import _best_seller, _debtor

INTERNAL_ZH = "抱歉，这是仅供公司员工查看的内部信息。我可以帮您查询订单、产品库存或您的发票。"


async def test_warehouse_get_the_forecast_in_chinese(erp_db: Session, domain: dict) -> None:
    sku = _best_seller(erp_db)
    product = erp_db.get(Product, sku)
    assert product is not None
    dispatcher = CollectingDispatcher()
    with speaking("zh"):
        await ActionStockForecast().run(
            dispatcher, as_staff(tracker({"sku": sku}), roles=("warehouse",)), domain
        )
    reply = texts(dispatcher)
    assert reply.startswith(f"{sku} {product.name}：可用 ") and "件（在库 " in reply
    assert "日均销量约 " in reply and "（80% 区间 " in reply and "周数据的" in reply
    assert "前后缺货（" in reply and "再订货点（" in reply
    [chart] = [m["custom"]["chart"] for m in dispatcher.messages if m.get("custom")]
    assert chart["title"] == f"{sku} {product.name}：库存、销量与预测"
    assert chart["alt"].startswith(f"{sku} {product.name}：可用 ")


def test_the_ageing_text_in_chinese() -> None:
    def balances(currency: str, *amounts: str) -> Balances:
        labels = ("current", "1-30", "31-60", "61-90", "90+")
        pairs = zip(labels, amounts, strict=True)
        return Balances(
            currency, tuple(Bucket(lbl, int(Decimal(a) > 0), Decimal(a)) for lbl, a in pairs)
        )

    today = date(2026, 12, 7)
    aged = Ageing(today, (balances("EUR", "100", "50", "0", "0", "25"),))
    top = [CustomerAgeing(1, "Acme", Ageing(today, (balances("EUR", "0", "50", "0", "0", "25"),)))]
    with speaking("zh"):
        assert describe_ageing(aged, top).splitlines() == [
            "截至2026年12月7日的应收账款（3 张未结发票）：",
            "EUR：未结 €175.00，逾期 €75.00 — 未到期 €100.00（1 张），"
            "逾期 1-30 天 €50.00（1 张），逾期 31-60 天 €0.00（0 张），"
            "逾期 61-90 天 €0.00（0 张），逾期 90+ 天 €25.00（1 张）。",
            "逾期欠款最多的客户：",
            "1. Acme — 逾期 €75.00",
        ]
        assert describe_ageing(Ageing(today, ()), []) == "截至2026年12月7日，没有任何欠款。"


async def test_finance_get_the_ageing_with_its_chart_in_chinese(
    erp_db: Session, domain: dict
) -> None:
    dispatcher = CollectingDispatcher()
    with speaking("zh"):
        await ActionReceivablesAgeing().run(
            dispatcher, as_staff(tracker(), roles=("finance",)), domain
        )
    assert texts(dispatcher).startswith("截至") and "逾期欠款最多的客户：\n1. " in texts(dispatcher)
    [chart] = [m["custom"]["chart"] for m in dispatcher.messages if m.get("custom")]
    assert chart["title"].startswith("应收账款账龄，")


async def test_a_customers_balance_asked_in_chinese(erp_db: Session, domain: dict) -> None:
    customer = _debtor(erp_db)
    dispatcher = CollectingDispatcher()
    state = as_staff(tracker(text=f"查一下{customer.email}的余额"), roles=("finance",))
    with speaking("zh"):
        await ActionCustomerBalance().run(dispatcher, state, domain)
    reply = texts(dispatcher)
    assert reply.startswith(f"{customer.name}（截至") and " 张发票未结，共 " in reply
    assert "最早的未结发票：" in reply and ("付款习惯：" in reply or "还没有全额付清" in reply)


async def test_customers_nobody_has_or_none_named_in_chinese(erp_db: Session, domain: dict) -> None:
    replies = []
    for text in ("客户 99999999 的余额", "99999999号客户欠多少", "客户余额"):
        dispatcher = CollectingDispatcher()
        with speaking("zh"):
            await ActionCustomerBalance().run(
                dispatcher, as_staff(tracker(text=text), roles=("finance",)), domain
            )
        replies.append(texts(dispatcher))
    assert replies == [
        "没有客户编号为 99999999 的客户。",
        "没有客户编号为 99999999 的客户。",
        "请问是哪位客户？请提供邮箱地址或客户编号，"
        "例如“anna@example.com 的余额”或“客户 1042 的余额”。",
    ]


async def test_customers_and_other_roles_are_refused_in_chinese(
    erp_db: Session, domain: dict
) -> None:
    asked, form, sales = CollectingDispatcher(), CollectingDispatcher(), CollectingDispatcher()
    with speaking("zh"):
        await ActionReceivablesAgeing().run(asked, tracker(), domain)
        await ValidateForecastForm().run(
            form, tracker({"sku": "WID-1001"}, active_loop="forecast_form"), domain
        )
        await ActionReceivablesAgeing().run(sales, as_staff(tracker(), roles=("sales",)), domain)
    assert texts(asked) == INTERNAL_ZH and texts(form) == INTERNAL_ZH
    assert texts(sales) == (
        "应收账款和账龄分析仅限财务（finance）角色（或管理员 admin）查看；您的角色：销售（sales）。"
        "请找有该角色的同事帮忙，或请管理员为您授权。"
    )
