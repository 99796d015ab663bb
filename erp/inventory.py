"""Product search and stock availability across warehouses, with incoming purchase orders."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from rapidfuzz import fuzz, process, utils
from sqlalchemy import select
from sqlalchemy.orm import Session

from erp.errors import RecordNotFound
from erp.ids import parse_sku
from erp.models import Product, PurchaseOrder, StockLevel, Warehouse

MIN_SCORE = 80.0
MAX_QUERY_CHARS = 200
_SKU_SHAPE = re.compile(r"\s*[A-Za-z]{3}[ \-_]?[0-9]{4}\s*", re.ASCII)


@dataclass(frozen=True)
class ProductMatch:
    """A product found for a search, with how well it matched (0-100)."""

    sku: str
    name: str
    category: str
    score: float


@dataclass(frozen=True)
class WarehouseStock:
    """One warehouse's stock of a product; ``available`` is on hand minus reserved."""

    warehouse_code: str
    warehouse_name: str
    city: str
    on_hand: int
    reserved: int
    available: int


@dataclass(frozen=True)
class IncomingStock:
    """The next purchase order due to bring a product in."""

    po_number: str
    quantity: int
    eta: date
    warehouse_code: str
    warehouse_name: str


@dataclass(frozen=True)
class StockReport:
    """A product's availability across all warehouses."""

    sku: str
    name: str
    unit_price: Decimal
    warehouses: tuple[WarehouseStock, ...]
    total_available: int
    next_incoming: IncomingStock | None


def find_products(query: str, *, session: Session, limit: int = 5) -> list[ProductMatch]:
    """Find products by SKU or by a fuzzy, typo-tolerant match on their names.

    An exact SKU (any case, with or without the dash) returns just that product. Otherwise
    names are scored with rapidfuzz; matches under 80 are dropped.

    Example:
        >>> [m.name for m in find_products("blue widgit", session=session, limit=1)]
        ['Blue Widget']

    Args:
        query: What the user typed.
        session: Open database session.
        limit: Most matches to return.

    Returns:
        Best matches first; empty when nothing is close.

    Raises:
        ValueError: ``limit`` is not positive.
    """
    if limit < 1:
        raise ValueError(f"limit must be greater than 0, got {limit}")
    if not isinstance(query, str) or not query.strip() or len(query) > MAX_QUERY_CHARS:
        return []
    if _SKU_SHAPE.fullmatch(query):
        product = session.get(Product, parse_sku(query))
        if product is not None:
            return [ProductMatch(product.sku, product.name, product.category, 100.0)]
    rows = session.execute(select(Product.sku, Product.name, Product.category)).all()
    names = [row.name for row in rows]
    processed = utils.default_process(query)
    if len(processed) < 3:
        return []
    found = process.extract(
        processed,
        names,
        scorer=fuzz.WRatio,
        processor=utils.default_process,
        score_cutoff=MIN_SCORE,
        limit=limit * 4,
    )
    # Break WRatio's frequent ties in favour of the name closest overall ("blue widget" ->
    # "Blue Widget" rather than "Blue Widget XL").
    ranked = sorted(
        found,
        key=lambda hit: (
            -round(hit[1], 1),
            -fuzz.ratio(processed, utils.default_process(hit[0])),
            hit[0],
        ),
    )
    return [
        ProductMatch(rows[index].sku, rows[index].name, rows[index].category, round(score, 1))
        for _, score, index in ranked[:limit]
    ]


def get_stock(sku: str, *, today: date, session: Session) -> StockReport:
    """Return a product's stock in every warehouse and its next incoming purchase order.

    Args:
        sku: Product code in any case, with or without the dash (``wid1001``).
        today: Purchase orders due before this day are not counted as incoming.
        session: Open database session.

    Raises:
        InvalidIdentifier: ``sku`` is not three letters and four digits.
        RecordNotFound: No product has this SKU.
    """
    code = parse_sku(sku)
    product = session.get(Product, code)
    if product is None:
        raise RecordNotFound("product", code)
    levels = session.execute(
        select(StockLevel, Warehouse)
        .join(Warehouse, Warehouse.code == StockLevel.warehouse_code)
        .where(StockLevel.sku == code)
        .order_by(Warehouse.code)
    ).all()
    warehouses = tuple(
        WarehouseStock(
            warehouse_code=warehouse.code,
            warehouse_name=warehouse.name,
            city=warehouse.city,
            on_hand=level.on_hand,
            reserved=level.reserved,
            available=max(level.on_hand - level.reserved, 0),
        )
        for level, warehouse in levels
    )
    incoming = session.execute(
        select(PurchaseOrder, Warehouse)
        .join(Warehouse, Warehouse.code == PurchaseOrder.warehouse_code)
        .where(PurchaseOrder.sku == code, PurchaseOrder.eta >= today)
        .order_by(PurchaseOrder.eta, PurchaseOrder.po_number)
        .limit(1)
    ).first()
    return StockReport(
        sku=product.sku,
        name=product.name,
        unit_price=product.unit_price,
        warehouses=warehouses,
        total_available=sum(w.available for w in warehouses),
        next_incoming=None
        if incoming is None
        else IncomingStock(
            po_number=incoming[0].po_number,
            quantity=incoming[0].quantity,
            eta=incoming[0].eta,
            warehouse_code=incoming[1].code,
            warehouse_name=incoming[1].name,
        ),
    )
