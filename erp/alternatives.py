"""Products to offer instead of one that is out of stock: similar by the embeddings of name,
category and description (erp/product_vectors.py), then ranked by what is in stock.

The catalogue and the stock are read through the mapping, so this works on a company's own
ERP as on the demo's; the encoder is passed in, so erp/ loads no model of its own.

Example:
    >>> found = alternatives_for("WID-1090", limit=3, session=session, encoder=encoder)
    >>> [(a.sku, a.name, a.cities[0]) for a in found.in_stock]
    [('WID-1156', 'Grey Aluminium Widget XL', 'Leipzig'), ...]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from erp.errors import RecordNotFound
from erp.inventory import WarehouseStock, find_product, levels_by_product
from erp.product_vectors import TextEncoder, product_vectors, similarities
from erp.schema import schema_for

# A product is close enough to offer when its similarity is at least MIN_SIMILARITY and
# within CLOSE_MARGIN of the most similar product's: stock then only chooses among the
# closest few (all-MiniLM-L6-v2 on the demo: one kind of product scores 0.8-0.95 against
# itself, another kind of the same category 0.6-0.8, another category under 0.5).
MIN_SIMILARITY = 0.7
CLOSE_MARGIN = 0.05
# At most this many close products are considered (raised to ``limit`` if that is more).
SHORTLIST = 5
MAX_LIMIT = 20


@dataclass(frozen=True)
class CatalogueProduct:
    """A product as the mapping reads it (a field the mapping leaves out is empty)."""

    key: Any
    sku: str
    name: str
    category: str
    description: str


@dataclass(frozen=True)
class Alternative:
    """A similar product and its stock; ``warehouses`` are those holding some, most first."""

    sku: str
    name: str
    category: str
    similarity: float
    available: int
    warehouses: tuple[WarehouseStock, ...]

    @property
    def in_stock(self) -> bool:
        return self.available > 0

    @property
    def cities(self) -> tuple[str, ...]:
        """Where it is in stock, most first (empty for an ERP without warehouses)."""
        places = (w.city or w.warehouse_name for w in self.warehouses)
        return tuple(dict.fromkeys(place for place in places if place))


@dataclass(frozen=True)
class Alternatives:
    """What can be offered instead of ``sku`` (which has ``available`` units): the products
    in stock first, most available first, then close ones out of stock too."""

    sku: str
    name: str
    available: int
    products: tuple[Alternative, ...]

    @property
    def in_stock(self) -> tuple[Alternative, ...]:
        return tuple(a for a in self.products if a.in_stock)


def catalogue_products(*, session: Session) -> list[CatalogueProduct]:
    """Every product's key, code, name, category and description through the mapping, by
    code."""
    schema = schema_for(session)
    sku_field = "sku" if schema.has("product", "sku") else "key"
    fields = dict.fromkeys(("key", sku_field, "name", "category", "description"))
    query = schema.select("product", *fields).order_by(schema.c("product", sku_field))
    return [
        CatalogueProduct(
            key=row.key,
            sku=str(row._mapping[sku_field]),
            name=str(row.name or ""),
            category=str(row._mapping.get("category") or ""),
            description=str(row._mapping.get("description") or ""),
        )
        for row in session.execute(query)
    ]


def alternatives_for(
    sku: str, *, limit: int = 3, session: Session, encoder: TextEncoder
) -> Alternatives:
    """Similar products to offer instead of ``sku``, in stock first.

    Similarity is that of the embeddings of name, category and description
    (:func:`erp.product_vectors.similarities`); the catalogue is embedded on the first call
    and again only when its texts change. Of the products close to ``sku`` (at least
    MIN_SIMILARITY, within CLOSE_MARGIN of the closest, at most SHORTLIST of them), those
    in stock come first, most available first, then the others, most similar first.

    Example:
        >>> found = alternatives_for("WID-1056", limit=3, session=session, encoder=encoder)
        >>> [a.name for a in found.in_stock]
        ['Steel Widget Pro', 'Red Steel Widget', 'Green Steel Widget']

    Args:
        sku: The product's code as a customer or colleague typed it.
        limit: Most alternatives to return (1-20).
        session: Open database session.
        encoder: Makes the embeddings (retrieval's ``SentenceTransformerEmbedder`` is one).

    Raises:
        ValueError: ``limit`` is out of range, or the encoder returned no vector per text.
        InvalidIdentifier: ``sku`` is not a product code of this ERP.
        RecordNotFound: No product has this SKU.
    """
    check_limit(limit)
    asked, _ = find_product(schema_for(session), sku, session=session)
    products = catalogue_products(session=session)
    index = next((i for i, p in enumerate(products) if p.key == asked["key"]), None)
    if index is None:  # deleted between the two reads
        raise RecordNotFound("product", sku)
    scores = similarities(product_vectors(products, encoder), index)
    return ranked_alternatives(products, scores, index, limit=limit, session=session)


def ranked_alternatives(
    products: Sequence[CatalogueProduct],
    scores: np.ndarray,
    index: int,
    *,
    limit: int,
    session: Session,
    min_similarity: float = MIN_SIMILARITY,
    margin: float = CLOSE_MARGIN,
    shortlist: int = SHORTLIST,
) -> Alternatives:
    """Offer the products close to ``products[index]`` by ``scores`` (any measure of
    similarity), in stock first, as :func:`alternatives_for` does.

    Raises:
        ValueError: ``limit`` is out of range.
    """
    check_limit(limit)
    close = close_products(
        scores,
        index,
        min_similarity=min_similarity,
        margin=margin,
        shortlist=max(shortlist, limit),
    )
    asked = products[index]
    stock = levels_by_product(
        schema_for(session), [products[i].key for i in [*close, index]], session=session
    )
    found = [
        _alternative(products[i], float(scores[i]), stock.get(products[i].key, ())) for i in close
    ]
    return Alternatives(
        sku=asked.sku,
        name=asked.name,
        available=sum(w.available for w in stock.get(asked.key, ())),
        products=tuple(rank(found)[:limit]),
    )


def close_products(
    scores: np.ndarray, index: int, *, min_similarity: float, margin: float, shortlist: int
) -> list[int]:
    """The positions of the products close to ``index``, most similar first: at least
    ``min_similarity``, within ``margin`` of the best, at most ``shortlist`` of them."""
    order = [int(i) for i in np.argsort(-scores, kind="stable") if i != index]
    if not order:
        return []
    floor = max(min_similarity, float(scores[order[0]]) - margin)
    return [i for i in order[:shortlist] if scores[i] >= floor]


def rank(found: Sequence[Alternative]) -> list[Alternative]:
    """In stock first, most available first; then the rest, most similar first."""
    return sorted(found, key=lambda a: (not a.in_stock, -a.available, -a.similarity, a.sku))


def check_limit(limit: int) -> None:
    """Raises ValueError unless 1 <= ``limit`` <= MAX_LIMIT."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")


def _alternative(
    product: CatalogueProduct, similarity: float, levels: tuple[WarehouseStock, ...]
) -> Alternative:
    holding = sorted((w for w in levels if w.available > 0), key=lambda w: -w.available)
    return Alternative(
        sku=product.sku,
        name=product.name,
        category=product.category,
        similarity=round(similarity, 4),
        available=sum(w.available for w in levels),
        warehouses=tuple(holding),
    )
