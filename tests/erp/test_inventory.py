"""Product search tolerates typos and SKU spellings; stock adds up across warehouses."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from erp.errors import InvalidIdentifier, RecordNotFound
from erp.inventory import find_products, get_stock
from erp.models import Product, PurchaseOrder, StockLevel
from tests.erp.conftest import SEED_TODAY


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("blue widgit", "Blue Widget"),
        ("Blue Widget", "Blue Widget"),
        ("blu wiget", "Blue Widget"),
        ("x200 controler", "X200 Controller"),
        ("X200 CONTROLLER", "X200 Controller"),
    ],
    ids=["typo", "exact", "two-typos", "controller-typo", "upper-case"],
)
def test_fuzzy_name_search_finds_the_product_first(
    session: Session, query: str, expected: str
) -> None:
    matches = find_products(query, session=session)
    assert matches and matches[0].name == expected
    assert len(matches) <= 5
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)


def test_sku_search_in_any_spelling(session: Session) -> None:
    sku = session.scalar(select(Product.sku).where(Product.name == "X200 Controller"))
    assert sku is not None
    for query in (sku, sku.lower(), sku.replace("-", ""), f" {sku.lower().replace('-', ' ')} "):
        matches = find_products(query, session=session)
        assert [(m.sku, m.score) for m in matches] == [(sku, 100.0)], query


@pytest.mark.parametrize(
    "query",
    ["xyzzy", "hello how are you", "", "   ", "🦄🦄🦄", "x" * 10_000, "1; DROP TABLE products"],
    ids=["nonsense", "chit-chat", "empty", "blank", "emoji", "huge", "injection"],
)
def test_search_without_a_close_match_is_empty(session: Session, query: str) -> None:
    assert find_products(query, session=session) == []


def test_search_limit_is_validated(session: Session) -> None:
    assert len(find_products("widget", session=session, limit=2)) == 2
    with pytest.raises(ValueError, match="limit must be greater than 0, got 0"):
        find_products("widget", session=session, limit=0)


def test_stock_adds_up_across_warehouses(session: Session) -> None:
    sku = session.scalar(select(Product.sku).where(Product.name == "Blue Widget"))
    assert sku is not None
    levels = {
        level.warehouse_code: level
        for level in session.scalars(select(StockLevel).where(StockLevel.sku == sku))
    }

    report = get_stock(sku.lower(), today=SEED_TODAY, session=session)

    assert (report.sku, report.name) == (sku, "Blue Widget")
    assert {w.warehouse_code for w in report.warehouses} == set(levels)
    for row in report.warehouses:
        level = levels[row.warehouse_code]
        assert (row.on_hand, row.reserved) == (level.on_hand, level.reserved)
        assert row.available == max(level.on_hand - level.reserved, 0)
        assert row.city and row.warehouse_name
    assert report.total_available == sum(w.available for w in report.warehouses)


def test_out_of_stock_sku_reports_the_earliest_incoming_delivery(session: Session) -> None:
    sku = session.scalars(
        select(StockLevel.sku)
        .group_by(StockLevel.sku)
        .having(func.sum(StockLevel.on_hand) == 0)
        .order_by(StockLevel.sku)
    ).first()
    assert sku is not None
    earliest = session.scalars(
        select(PurchaseOrder)
        .where(PurchaseOrder.sku == sku, PurchaseOrder.eta >= SEED_TODAY)
        .order_by(PurchaseOrder.eta, PurchaseOrder.po_number)
    ).first()
    assert earliest is not None

    report = get_stock(sku, today=SEED_TODAY, session=session)

    assert report.total_available == 0
    assert all(w.available == 0 for w in report.warehouses)
    assert report.next_incoming is not None
    assert report.next_incoming.po_number == earliest.po_number
    assert report.next_incoming.eta == earliest.eta
    assert report.next_incoming.quantity == earliest.quantity
    assert report.next_incoming.warehouse_code == earliest.warehouse_code


def test_purchase_orders_already_due_are_not_incoming(session: Session) -> None:
    po = session.scalars(select(PurchaseOrder).order_by(PurchaseOrder.eta.desc())).first()
    assert po is not None
    after_last_eta = po.eta.replace(year=po.eta.year + 1)
    assert get_stock(po.sku, today=after_last_eta, session=session).next_incoming is None


def test_unknown_and_malformed_skus(session: Session) -> None:
    with pytest.raises(RecordNotFound):
        get_stock("ZZZ-9999", today=SEED_TODAY, session=session)
    with pytest.raises(InvalidIdentifier, match="like WID-1001"):
        get_stock("widget", today=SEED_TODAY, session=session)
