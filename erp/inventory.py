"""Product search and stock availability across warehouses, with incoming purchase orders."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from rapidfuzz import fuzz, process, utils
from sqlalchemy import RowMapping
from sqlalchemy.orm import Session

from erp.errors import RecordNotFound
from erp.ids import parse_sku
from erp.schema import MappedSchema, as_date, schema_for

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
    """One warehouse's stock of a product; ``available`` is on hand minus reserved.

    An ERP with one stock figure per product has one entry with empty names.
    """

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
    eta: date | None  # None: on order, without a date in the ERP
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
    rows = catalogue_rows(session)
    if _SKU_SHAPE.fullmatch(query):
        code = parse_sku(query)
        for row in rows:
            if row.sku == code:
                return [ProductMatch(row.sku, row.name, row.category, 100.0)]
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


def catalogue_rows(session: Session) -> list[Any]:
    """Every product's SKU, name and category (text; empty without a category), by SKU."""
    schema = schema_for(session)
    sku_field = "sku" if schema.has("product", "sku") else "key"
    rows = session.execute(
        schema.select("product", sku_field, "name", "category").order_by(
            schema.c("product", sku_field)
        )
    ).all()
    return [
        _Row(str(row._mapping[sku_field]), row.name, str(row._mapping.get("category") or ""))
        for row in rows
    ]


@dataclass(frozen=True)
class _Row:
    sku: str
    name: str
    category: str


def find_product(
    schema: MappedSchema, sku: str, *fields: str, session: Session
) -> tuple[RowMapping, str]:
    """The product a customer's ``sku`` names (its key, code, name and ``fields``) and the
    field its code is in ("sku", or "key" for an ERP whose key is the code).

    Raises:
        InvalidIdentifier: ``sku`` is not a product code of this ERP.
        RecordNotFound: No product has this SKU.
    """
    code = schema.parse_id("sku", sku, parse_sku)
    sku_field = "sku" if schema.has("product", "sku") else "key"
    key = schema.key("product", sku_field, code)
    product = None
    if key is not None:
        product = session.execute(
            schema.select("product", "key", sku_field, "name", *fields).where(
                schema.c("product", sku_field) == key
            )
        ).first()
    if product is None:
        raise RecordNotFound("product", code)
    return product._mapping, sku_field


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
    schema = schema_for(session)
    values, sku_field = find_product(schema, sku, "price", session=session)
    warehouses = levels_by_product(schema, [values["key"]], session=session).get(values["key"], ())
    return StockReport(
        sku=str(values[sku_field]),
        name=values["name"],
        unit_price=Decimal(values.get("price") or 0),
        warehouses=warehouses,
        total_available=sum(w.available for w in warehouses),
        next_incoming=_incoming(schema, values["key"], today, session),
    )


def levels_by_product(
    schema: MappedSchema, products: Sequence[Any], *, session: Session
) -> dict[Any, tuple[WarehouseStock, ...]]:
    """Each product's stock per warehouse (by warehouse code), for products given by key.

    Products without a stock row are left out; an ERP without stock figures gives ``{}``.
    """
    if not schema.has("stock") or not products:
        return {}
    fields = ("product", "warehouse", "warehouse_name", "city", "available", "on_hand", "reserved")
    query = schema.select("stock", *fields).where(schema.c("stock", "product").in_(products))
    if schema.has("stock", "warehouse"):
        query = query.order_by(schema.c("stock", "warehouse"))
    levels: dict[Any, list[WarehouseStock]] = {}
    for row in session.execute(query):
        values = row._mapping
        levels.setdefault(values["product"], []).append(_warehouse_stock(values))
    return {product: tuple(found) for product, found in levels.items()}


def _warehouse_stock(values: RowMapping) -> WarehouseStock:
    on_hand = int(values.get("on_hand", values.get("available")) or 0)
    reserved = int(values.get("reserved") or 0)
    available = values.get("available")
    available = max(on_hand - reserved, 0) if available is None else max(int(available), 0)
    return WarehouseStock(
        warehouse_code=str(values.get("warehouse") or ""),
        warehouse_name=str(values.get("warehouse_name") or values.get("warehouse") or ""),
        city=str(values.get("city") or ""),
        on_hand=on_hand,
        reserved=reserved,
        available=available,
    )


def _incoming(
    schema: MappedSchema, product: Any, today: date, session: Session
) -> IncomingStock | None:
    if not schema.has("supply"):
        return None
    fields = ("reference", "quantity", "eta", "warehouse", "warehouse_name")
    query = schema.select("supply", *fields).where(
        schema.c("supply", "product") == product, schema.c("supply", "quantity") > 0
    )
    if schema.has("supply", "eta"):
        eta = schema.c("supply", "eta")
        query = query.where(eta >= today).order_by(eta)
    if schema.has("supply", "reference"):
        query = query.order_by(schema.c("supply", "reference"))
    row = session.execute(query.limit(1)).first()
    if row is None:
        return None
    values = row._mapping
    return IncomingStock(
        po_number=str(values.get("reference") or ""),
        quantity=int(values["quantity"]),
        eta=as_date(values.get("eta")),
        warehouse_code=str(values.get("warehouse") or ""),
        warehouse_name=str(values.get("warehouse_name") or values.get("warehouse") or ""),
    )
