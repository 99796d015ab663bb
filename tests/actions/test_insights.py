"""Staff insights by role: the stock-out forecast, receivables ageing, a customer's balance."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions.insights import (
    ActionCustomerBalance,
    ActionReceivablesAgeing,
    ActionStockForecast,
    ValidateForecastForm,
    describe_ageing,
)
from erp.models import Customer, Invoice, OrderLine, Product
from erp.receivables import Ageing, Balances, Bucket, CustomerAgeing
from i18n.texts import say
from tests.actions.conftest import as_staff, texts, tracker


def _best_seller(db: Session) -> str:
    return db.scalars(
        select(OrderLine.sku).group_by(OrderLine.sku).order_by(func.count().desc()).limit(1)
    ).one()


def _debtor(db: Session) -> Customer:
    """A customer with an invoice still open."""
    customer_id = db.scalars(
        select(Invoice.customer_id).where(Invoice.status.in_(("open", "overdue",
                                                               "partially_paid"))).limit(1)
    ).one()  # fmt: skip
    customer = db.get(Customer, customer_id)
    assert customer is not None
    return customer


@pytest.mark.parametrize("role", ["warehouse", "admin"])
async def test_warehouse_get_the_forecast_of_a_product(
    erp_db: Session, domain: dict, role: str
) -> None:
    sku = _best_seller(erp_db)
    product = erp_db.get(Product, sku)
    assert product is not None
    dispatcher = CollectingDispatcher()

    await ActionStockForecast().run(
        dispatcher, as_staff(tracker({"sku": sku}), roles=(role,)), domain
    )

    reply = texts(dispatcher)
    assert reply.startswith(f"{sku} {product.name}: ") and "available" in reply
    assert "a day (80% range" in reply and "run out around" in reply
    assert "reorder point" in reply
    [chart] = [m["custom"]["chart"] for m in dispatcher.messages if m.get("custom")]
    assert chart["title"].startswith(f"{sku} ") and chart["png"].startswith("iVBORw0KGgo")


@pytest.mark.parametrize(
    ("action", "slots", "needed"),
    [
        (ActionStockForecast(), {"sku": "WID-1001"}, "warehouse role"),
        (ActionReceivablesAgeing(), {}, "finance role"),
        (ActionCustomerBalance(), {}, "finance role"),
    ],
    ids=["forecast", "ageing", "balance"],
)
async def test_other_roles_are_told_which_role_sees_it_and_customers_that_it_is_internal(
    erp_db: Session, domain: dict, action: object, slots: dict, needed: str
) -> None:
    assert hasattr(action, "run")
    for roles in [("sales",), ("support",), ("sales", "support")]:
        dispatcher = CollectingDispatcher()
        await action.run(dispatcher, as_staff(tracker(slots), roles=roles), domain)  # type: ignore[attr-defined]
        assert needed in texts(dispatcher) and "your roles:" in texts(dispatcher)
    dispatcher = CollectingDispatcher()
    await action.run(dispatcher, tracker(slots), domain)  # type: ignore[attr-defined]
    assert texts(dispatcher) == say("insight.internal", "en")


async def test_the_forecast_form_ends_for_customers_before_looking_anything_up(
    erp_db: Session, domain: dict
) -> None:
    dispatcher = CollectingDispatcher()
    events = await ValidateForecastForm().run(
        dispatcher, tracker({"sku": "WID-1001"}, active_loop="forecast_form"), domain
    )
    assert texts(dispatcher) == say("insight.internal", "en")
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)


async def test_finance_get_the_ageing_with_the_customers_owing_most(
    erp_db: Session, domain: dict
) -> None:
    dispatcher = CollectingDispatcher()
    await ActionReceivablesAgeing().run(dispatcher, as_staff(tracker(), roles=("finance",)), domain)
    reply = texts(dispatcher)
    assert reply.startswith("Receivables as of ") and "open invoice" in reply
    for label in ("current", "1-30 days", "31-60 days", "61-90 days", "90+ days"):
        assert label in reply
    assert "Owing most past due:\n1. " in reply
    [chart] = [m["custom"]["chart"] for m in dispatcher.messages if m.get("custom")]
    assert chart["title"].startswith("Receivables ageing, ") and chart["png"]


def test_the_ageing_text_states_each_currency_and_ranks_customers() -> None:
    def balances(currency: str, *amounts: str) -> Balances:
        labels = ("current", "1-30", "31-60", "61-90", "90+")
        pairs = zip(labels, amounts, strict=True)
        return Balances(
            currency, tuple(Bucket(lbl, int(Decimal(a) > 0), Decimal(a)) for lbl, a in pairs)
        )

    today = date(2026, 12, 7)
    aged = Ageing(today, (balances("EUR", "100", "50", "0", "0", "25"),
                          balances("GBP", "10", "0", "0", "0", "0")))  # fmt: skip
    top = [
        CustomerAgeing(1, "Acme", Ageing(today, (balances("EUR", "0", "50", "0", "0", "25"),))),
        CustomerAgeing(2, "Punctual", Ageing(today, (balances("GBP", "10", "0", "0", "0", "0"),))),
    ]
    text = describe_ageing(aged, top)
    assert text.splitlines() == [
        "Receivables as of 7 Dec 2026 (4 open invoices):",
        "EUR: €175.00 open, €75.00 overdue — current €100.00 (1), 1-30 days €50.00 (1), "
        "31-60 days €0.00 (0), 61-90 days €0.00 (0), 90+ days €25.00 (1).",
        "GBP: £10.00 open, £0.00 overdue — current £10.00 (1), 1-30 days £0.00 (0), "
        "31-60 days £0.00 (0), 61-90 days £0.00 (0), 90+ days £0.00 (0).",
        "Owing most past due:",
        "1. Acme — €75.00 overdue",
    ]
    assert describe_ageing(Ageing(today, ()), []) == "Nothing is owed as of 7 Dec 2026."


async def test_finance_get_a_customers_balance_by_email(erp_db: Session, domain: dict) -> None:
    customer = _debtor(erp_db)
    dispatcher = CollectingDispatcher()
    state = as_staff(tracker(text=f"what does {customer.email} owe us"), roles=("finance",))

    await ActionCustomerBalance().run(dispatcher, state, domain)

    reply = texts(dispatcher)
    assert reply.startswith(f"{customer.name} as of ") and " open in " in reply
    assert "Oldest open: " in reply and ("Pays " in reply or "No invoice paid" in reply)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("balance of nobody@nowhere.example", "No customer has the email address nobody@"),
        ("balance of customer 99999999", "No customer has the customer number 99999999."),
        ("customer balance", "Which customer? Name them by email address or customer number"),
        ("balance of x' OR 1=1 --@a.bc", "No customer has the email address"),
    ],
)
async def test_a_customer_nobody_has_or_none_named_gets_a_clear_reply(
    erp_db: Session, domain: dict, text: str, expected: str
) -> None:
    dispatcher = CollectingDispatcher()
    state = as_staff(tracker(text=text), roles=("finance",))
    await ActionCustomerBalance().run(dispatcher, state, domain)
    assert texts(dispatcher).startswith(expected), texts(dispatcher)
