"""Alternatives for an out-of-stock product: similarity, the stock ranking and the embedding
cache, on a tiny catalogue of our own with a bag-of-words encoder, and on the seeded demo."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from erp.alternatives import (
    Alternatives,
    CatalogueProduct,
    alternatives_for,
    catalogue_products,
    close_products,
    ranked_alternatives,
)
from erp.db import create_schema, make_engine
from erp.errors import InvalidIdentifier, RecordNotFound
from erp.models import Product, StockLevel, Warehouse
from erp.product_vectors import EmbeddingCache, ProductVectors, product_vectors, similarities
from erp.schema import forget_schemas
from tests.erp.encoders import WordEncoder
from tests.erp.test_mapped_erps import NORTHWIND, mapped_session, need

WIDGET_BLURB = "General-purpose widget for assembly lines"
# sku, name, category, stock per warehouse (on hand, reserved)
CATALOGUE = (
    ("WID-1001", "Steel Widget XL", "Widgets", {"MAN": (0, 0), "ROT": (0, 0)}),
    ("WID-1002", "Red Steel Widget XL", "Widgets", {"MAN": (5, 0), "ROT": (0, 0)}),
    ("WID-1003", "Blue Steel Widget XL", "Widgets", {"MAN": (30, 10), "ROT": (50, 0)}),
    ("WID-1004", "Green Steel Widget XL", "Widgets", {"MAN": (4, 4), "ROT": (0, 0)}),
    ("WID-1005", "Brass Widget Mini", "Widgets", {"MAN": (500, 0), "ROT": (500, 0)}),
    ("FAS-1001", "M8 Hex Nut (100 pack)", "Fasteners", {"MAN": (900, 0), "ROT": (0, 0)}),
    ("CAB-1001", "HDMI Cable 2m", "Cables", {"MAN": (0, 0), "ROT": (0, 0)}),
    ("CAB-1002", "HDMI Cable 5m", "Cables", {"MAN": (0, 0), "ROT": (0, 0)}),
    ("OFF-1001", "Stapler Heavy Duty", "Office Supplies", {"MAN": (0, 0), "ROT": (0, 0)}),
)


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    """The catalogue above in a SQLite database of the test's own (the demo mapping)."""
    monkeypatch.delenv("ERP_MAPPING", raising=False)
    forget_schemas()
    engine = make_engine(f"sqlite:///{tmp_path / 'alternatives.db'}")
    create_schema(engine)
    with Session(engine) as session, session.begin():
        session.add_all(
            [
                Warehouse(code="MAN", name="Manchester Distribution Centre", city="Manchester"),
                Warehouse(code="ROT", name="Rotterdam Hub", city="Rotterdam"),
            ]
        )
        session.flush()
        for sku, name, category, stock in CATALOGUE:
            blurb = WIDGET_BLURB if category == "Widgets" else f"{category} for the trade"
            session.add(
                Product(
                    sku=sku,
                    name=name,
                    category=category,
                    unit_price=Decimal("9.99"),
                    description=f"{name}. {blurb}.",
                )
            )
            session.flush()
            for code, (on_hand, reserved) in stock.items():
                session.add(
                    StockLevel(
                        sku=sku,
                        warehouse_code=code,
                        on_hand=on_hand,
                        reserved=reserved,
                        reorder_point=10,
                    )
                )
    with Session(engine) as session:
        yield session
    engine.dispose()
    forget_schemas()


def offered(found: Alternatives) -> list[tuple[str, int]]:
    return [(a.sku, a.available) for a in found.products]


def test_in_stock_alternatives_come_first_most_available_first(tiny: Session) -> None:
    found = alternatives_for("WID-1001", limit=3, session=tiny, encoder=WordEncoder())
    assert (found.sku, found.name, found.available) == ("WID-1001", "Steel Widget XL", 0)
    # Blue: 20 + 50 available; red: 5; green is out of stock (all 4 reserved), so last.
    assert offered(found) == [("WID-1003", 70), ("WID-1002", 5), ("WID-1004", 0)]
    assert [a.sku for a in found.in_stock] == ["WID-1003", "WID-1002"]


def test_the_warehouses_with_stock_are_named_most_first(tiny: Session) -> None:
    best = alternatives_for("WID-1001", limit=1, session=tiny, encoder=WordEncoder()).products[0]
    assert best.cities == ("Rotterdam", "Manchester")
    assert [(w.warehouse_code, w.available) for w in best.warehouses] == [("ROT", 50), ("MAN", 20)]


def test_a_product_of_another_kind_is_not_offered_however_much_is_in_stock(
    tiny: Session,
) -> None:
    found = alternatives_for("WID-1002", limit=5, session=tiny, encoder=WordEncoder())
    assert "WID-1005" not in [a.sku for a in found.products]  # 1,000 Brass Widget Mini
    assert "FAS-1001" not in [a.sku for a in found.products]


def test_a_product_with_nothing_similar_gets_no_alternatives(tiny: Session) -> None:
    found = alternatives_for("OFF-1001", limit=3, session=tiny, encoder=WordEncoder())
    assert found.products == () and found.in_stock == ()


def test_similar_products_all_out_of_stock_are_listed_but_none_in_stock(tiny: Session) -> None:
    found = alternatives_for("cab1001", limit=3, session=tiny, encoder=WordEncoder())
    assert offered(found) == [("CAB-1002", 0)]
    assert found.in_stock == ()


def test_the_limit_caps_the_alternatives(tiny: Session) -> None:
    found = alternatives_for("WID-1001", limit=1, session=tiny, encoder=WordEncoder())
    assert offered(found) == [("WID-1003", 70)]


@pytest.mark.parametrize("limit", [0, -1, 21], ids=["zero", "negative", "over-20"])
def test_the_limit_is_validated(tiny: Session, limit: int) -> None:
    with pytest.raises(ValueError, match=f"limit must be between 1 and 20, got {limit}"):
        alternatives_for("WID-1001", limit=limit, session=tiny, encoder=WordEncoder())


def test_unknown_and_malformed_skus_fail_as_in_inventory(tiny: Session) -> None:
    with pytest.raises(RecordNotFound):
        alternatives_for("WID-9999", session=tiny, encoder=WordEncoder())
    with pytest.raises(InvalidIdentifier):
        alternatives_for("'; DROP TABLE products; --", session=tiny, encoder=WordEncoder())


def test_the_catalogue_is_embedded_on_first_use_then_from_the_cache(tiny: Session) -> None:
    encoder = WordEncoder()
    alternatives_for("WID-1001", session=tiny, encoder=encoder)
    first = encoder.embedded
    alternatives_for("WID-1002", session=tiny, encoder=encoder)
    alternatives_for("CAB-1001", session=tiny, encoder=encoder)
    # Names, descriptions and the four categories, each text once; nothing after that.
    assert first == 2 * len(CATALOGUE) + 4
    assert encoder.embedded == first


def test_a_changed_product_is_embedded_again_and_nothing_else(tiny: Session) -> None:
    encoder = WordEncoder()
    alternatives_for("WID-1001", session=tiny, encoder=encoder)
    before = encoder.embedded
    tiny.execute(
        update(Product)
        .where(Product.sku == "WID-1005")
        .values(
            name="Yellow Steel Widget XL", description=f"Yellow Steel Widget XL. {WIDGET_BLURB}."
        )
    )
    tiny.commit()
    found = alternatives_for("WID-1001", limit=3, session=tiny, encoder=encoder)
    assert sorted(encoder.calls[-1]) == [
        "Yellow Steel Widget XL",
        f"Yellow Steel Widget XL. {WIDGET_BLURB}.",
    ]
    assert encoder.embedded == before + 2
    assert found.products[0].sku == "WID-1005"  # now a steel widget XL, with 1,000 in stock


def test_the_vectors_are_kept_per_encoder_and_go_with_it() -> None:
    cache = EmbeddingCache()
    products = [CatalogueProduct(1, "A-1", "Blue Widget", "Widgets", "")]
    first, second = WordEncoder(), WordEncoder()
    cache.vectors(first, products)
    cache.vectors(second, products)
    cache.vectors(first, products)
    assert (first.embedded, second.embedded, cache.builds) == (2, 2, 2)
    del second
    gc.collect()
    assert len(cache._entries) == 1


def test_an_encoder_giving_no_vector_per_text_is_an_error() -> None:
    class Broken:
        def embed(self, texts: list[str]) -> np.ndarray:
            return np.ones((1, 4), dtype=np.float32)

    products = [CatalogueProduct(1, "A-1", "Blue Widget", "Widgets", "")]
    with pytest.raises(ValueError, match=r"one vector per text \(2\), got shape \(1, 4\)"):
        EmbeddingCache().vectors(Broken(), products)


def test_a_field_one_product_lacks_leaves_the_others_to_decide() -> None:
    unit = np.eye(3, dtype=np.float32)
    vectors = ProductVectors(
        {
            "name": np.stack([unit[0], unit[0], unit[1]]),
            "category": np.stack([unit[2], np.zeros(3, np.float32), unit[2]]),
            "description": np.stack([unit[1], unit[1], unit[1]]),
        }
    )
    scores = similarities(vectors, 0)
    # Product 1: same name and description, no category -> (0.6 + 0.2) / 0.8.
    # Product 2: other name, same category and description -> (0.2 + 0.2) / 1.0.
    assert scores.tolist() == pytest.approx([1.0, 1.0, 0.4])


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([1.0, 0.9, 0.88, 0.84, 0.5], [1, 2]),  # within 0.05 of the best (0.9)
        ([1.0, 0.72, 0.69, 0.71, 0.1], [1, 3]),  # 0.69 is under the 0.7 floor
        ([1.0, 0.95, 0.95, 0.95, 0.95], [1, 2, 3]),  # at most the shortlist of 3
        ([1.0, 0.5, 0.4, 0.3, 0.2], []),  # nothing similar enough
        ([1.0], []),  # a catalogue of one
    ],
    ids=["margin", "floor", "shortlist", "none", "alone"],
)
def test_close_products_are_near_the_best_and_above_the_floor(
    scores: list[float], expected: list[int]
) -> None:
    array = np.array(scores, dtype=np.float32)
    found = close_products(array, 0, min_similarity=0.7, margin=0.05, shortlist=3)
    assert found == expected


def test_alternatives_on_the_seeded_demo_are_read_through_the_mapping(session: Session) -> None:
    """On every backend: the stock of the asked product and its sibling is set here (the
    fixture rolls it back); the sibling is offered with its stock, most available first."""
    asked, sibling = (
        session.scalar(select(Product.sku).where(Product.name == name))
        for name in ("Yellow Aluminium Widget Heavy Duty", "Orange Aluminium Widget Heavy Duty")
    )
    assert asked is not None and sibling is not None
    session.execute(update(StockLevel).where(StockLevel.sku == asked).values(on_hand=0, reserved=0))
    session.execute(
        update(StockLevel).where(StockLevel.sku == sibling).values(on_hand=7, reserved=2)
    )
    found = alternatives_for(asked.lower(), limit=3, session=session, encoder=WordEncoder())
    assert (found.sku, found.available) == (asked, 0)
    offers = {a.sku: a for a in found.in_stock}
    assert offers[sibling].available == 15
    assert set(offers[sibling].cities) == {"Leipzig", "Manchester", "Rotterdam"}
    quantities = [a.available for a in found.in_stock]
    assert quantities == sorted(quantities, reverse=True)
    assert {a.category for a in found.products} == {"Widgets"}
    assert len(catalogue_products(session=session)) == session.scalar(
        select(func.count()).select_from(Product)
    )


@pytest.fixture
def northwind(monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    yield from mapped_session(monkeypatch, "northwind.yml", f"sqlite:///{need(NORTHWIND)}")


def test_northwind_products_and_their_single_stock_figure_go_through_the_mapping(
    northwind: Session,
) -> None:
    products = catalogue_products(session=northwind)
    gumbo = next(i for i, p in enumerate(products) if p.sku == "5")
    assert (products[gumbo].name, products[gumbo].category) == (
        "Chef Anton's Gumbo Mix",
        "Condiments",
    )
    scores = similarities(product_vectors(products, WordEncoder()), gumbo)
    found = ranked_alternatives(
        products, scores, gumbo, limit=1, session=northwind, min_similarity=0.5
    )
    # Units in stock, no warehouses: nothing to name but the quantity.
    assert (found.sku, found.available) == ("5", 0)
    assert [(a.sku, a.name, a.available, a.cities) for a in found.products] == [
        ("4", "Chef Anton's Cajun Seasoning", 53, ())
    ]
    assert alternatives_for("5", session=northwind, encoder=WordEncoder()).sku == "5"
