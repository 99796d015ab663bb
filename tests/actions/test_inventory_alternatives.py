"""The stock answer for an out-of-stock product offers similar products in stock, against
the seeded ERP with fake encoders (conftest's by default), and the real one on a few
products."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence

import numpy as np
import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions.alternatives import (
    budget_seconds,
    describe_alternatives,
    use_encoder,
    warm_up,
)
from actions.inventory import ActionCheckStock
from actions.settings import ActionServerSettings, use_settings
from envvars import SettingsError
from erp.alternatives import (
    MIN_SIMILARITY,
    Alternative,
    Alternatives,
    CatalogueProduct,
    close_products,
)
from erp.inventory import WarehouseStock
from erp.models import Product, StockLevel, Warehouse
from erp.product_vectors import EmbeddingCache, similarities
from i18n.texts import say
from tests.actions.conftest import texts, tracker
from tests.erp.encoders import FailingEncoder, GroupEncoder, WordEncoder

AVAILABLE = func.sum(StockLevel.on_hand - StockLevel.reserved)
NONE_IN_STOCK = say("alternatives.none_in_stock", "en")


def out_of_stock(session: Session) -> list[tuple[str, str, str]]:
    """(SKU, name, category) of the products with nothing available in any warehouse."""
    return list(
        session.execute(
            select(Product.sku, Product.name, Product.category)
            .join(StockLevel, StockLevel.sku == Product.sku)
            .group_by(Product.sku, Product.name, Product.category)
            .having(func.max(StockLevel.on_hand - StockLevel.reserved) <= 0)
            .order_by(Product.sku)
        ).all()
    )


def in_stock(
    session: Session, count: int, category: str | None = None
) -> list[tuple[str, str, int]]:
    """(SKU, name, available) of ``count`` products in stock (of ``category``), most
    available first."""
    query = (
        select(Product.sku, Product.name, AVAILABLE)
        .join(StockLevel, StockLevel.sku == Product.sku)
        .group_by(Product.sku, Product.name)
        .having(func.min(StockLevel.on_hand - StockLevel.reserved) > 0)
        .order_by(AVAILABLE.desc(), Product.sku)
        .limit(count)
    )
    if category is not None:
        query = query.where(Product.category == category)
    return list(session.execute(query).all())


def cities_with_stock(session: Session, sku: str) -> list[str]:
    """Where ``sku`` is available, most first."""
    rows = session.execute(
        select(Warehouse.city, StockLevel.on_hand - StockLevel.reserved)
        .join(Warehouse, Warehouse.code == StockLevel.warehouse_code)
        .where(StockLevel.sku == sku, StockLevel.on_hand > StockLevel.reserved)
        .order_by(StockLevel.warehouse_code)
    ).all()
    return [city for city, _ in sorted(rows, key=lambda row: -row[1])]


def listing(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


async def stock_answer(sku: str, domain: dict) -> str:
    dispatcher = CollectingDispatcher()
    await ActionCheckStock().run(dispatcher, tracker({"sku": sku}), domain)
    return texts(dispatcher)


async def test_an_out_of_stock_product_gets_similar_products_in_stock(
    erp_db: Session, domain: dict
) -> None:
    (sku, name, category), *_ = out_of_stock(erp_db)
    others = in_stock(erp_db, 4, category)
    assert len(others) == 4
    use_encoder(GroupEncoder({name: 0, **{other[1]: 0 for other in others}}))

    reply = await stock_answer(sku, domain)

    offers = "; ".join(
        f"{o_name} ({o_sku}), {o_available} available in "
        f"{listing(cities_with_stock(erp_db, o_sku))}"
        for o_sku, o_name, o_available in others[:3]
    )
    assert f"Sorry, {name} ({sku}) is out of stock" in reply
    assert reply.endswith(f" Similar products in stock: {offers}.")


async def test_a_product_in_stock_gets_no_alternatives(erp_db: Session, domain: dict) -> None:
    (sku, name, available), *_ = in_stock(erp_db, 1)
    encoder = WordEncoder()
    use_encoder(encoder)

    reply = await stock_answer(sku, domain)

    assert f"{available} available" in reply and "Similar" not in reply
    assert encoder.calls == []  # not even embedded


async def test_no_similar_product_in_stock_is_said_plainly(erp_db: Session, domain: dict) -> None:
    (sku, name, _), (other_sku, other_name, _), *_ = out_of_stock(erp_db)
    use_encoder(GroupEncoder({name: 0, other_name: 0}))

    reply = await stock_answer(sku, domain)

    assert "out of stock" in reply and other_sku not in reply
    assert reply.endswith(f" {NONE_IN_STOCK}")


async def test_when_the_encoder_fails_the_stock_answer_comes_without_alternatives(
    erp_db: Session, domain: dict, caplog: pytest.LogCaptureFixture
) -> None:
    sku, name, _ = out_of_stock(erp_db)[0]
    use_encoder(FailingEncoder())

    with caplog.at_level(logging.ERROR, logger="actions.alternatives"):
        reply = await stock_answer(sku, domain)

    assert f"Sorry, {name} ({sku}) is out of stock" in reply
    assert "Similar" not in reply and NONE_IN_STOCK not in reply
    assert any(
        record.message == f"could not find alternatives for {sku}"
        and "model files are missing" in str(record.exc_info[1] if record.exc_info else "")
        for record in caplog.records
    )


class BlockedEncoder(WordEncoder):
    """An encoder still loading its model: it answers once ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.done = threading.Event()

    def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        self.release.wait(timeout=10)
        try:
            return super().embed(texts)
        finally:
            self.done.set()


async def test_alternatives_not_ready_in_time_leave_the_answer_without_them(
    erp_db: Session,
    domain: dict,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sku, name, _ = out_of_stock(erp_db)[0]
    encoder = BlockedEncoder()
    use_encoder(encoder)
    use_settings(ActionServerSettings(alternatives_budget=0.05))

    with caplog.at_level(logging.WARNING, logger="actions.alternatives"):
        reply = await stock_answer(sku, domain)
    encoder.release.set()
    while not encoder.done.is_set():  # the embedding carries on for the next question
        await asyncio.sleep(0.01)

    assert f"Sorry, {name} ({sku}) is out of stock" in reply and "Similar" not in reply
    assert f"alternatives for {sku} not ready within the budget" in caplog.text


async def test_after_a_warm_up_the_first_question_embeds_nothing(
    erp_db: Session, domain: dict
) -> None:
    sku, name, _ = out_of_stock(erp_db)[0]
    encoder = WordEncoder()
    use_encoder(encoder)

    warm_up()
    embedded = encoder.embedded
    reply = await stock_answer(sku, domain)

    assert embedded == 2 * erp_db.scalar(select(func.count()).select_from(Product)) + len(
        set(erp_db.scalars(select(Product.category)))
    )
    assert encoder.embedded == embedded and "out of stock" in reply


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("", 2.0), ("1500", 1.5), ("0", 0.0)],
    ids=["default", "set", "zero"],
)
def test_the_budget_comes_from_the_environment_read_at_start(
    monkeypatch: pytest.MonkeyPatch, value: str, seconds: float
) -> None:
    use_settings(ActionServerSettings.from_env({"ALTERNATIVES_BUDGET_MS": value}))
    monkeypatch.setenv("ALTERNATIVES_BUDGET_MS", "999")  # read at start: not again
    assert budget_seconds() == seconds


@pytest.mark.parametrize("value", ["-5", "soon", "nan"])
def test_a_bad_budget_names_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match=f"ALTERNATIVES_BUDGET_MS must be .* got '?{value}'?"):
        ActionServerSettings.from_env({"ALTERNATIVES_BUDGET_MS": value})


def alternative(sku: str, name: str, available: int, *cities: str) -> Alternative:
    warehouses = tuple(WarehouseStock(c[:3].upper(), c, c, available, 0, available) for c in cities)
    return Alternative(sku, name, "Widgets", 0.9, available, warehouses)


@pytest.mark.parametrize(
    ("products", "line"),
    [
        (
            [alternative("WID-1057", "Steel Widget XL", 12, "Manchester")],
            "Similar and in stock: Steel Widget XL (WID-1057), 12 available in Manchester.",
        ),
        (
            [alternative("11", "Queso Cabrales", 22)],
            "Similar and in stock: Queso Cabrales (11), 22 available.",
        ),
        (
            [
                alternative("WID-1003", "Blue Steel Widget XL", 70, "Rotterdam", "Leipzig"),
                alternative("WID-1002", "Red Steel Widget XL", 5, "Manchester"),
                alternative("WID-1004", "Green Steel Widget XL", 0),
            ],
            "Similar products in stock: Blue Steel Widget XL (WID-1003), 70 available in "
            "Rotterdam and Leipzig; Red Steel Widget XL (WID-1002), 5 available in Manchester.",
        ),
        ([alternative("WID-1004", "Green Steel Widget XL", 0)], NONE_IN_STOCK),
        ([], NONE_IN_STOCK),
    ],
    ids=["one", "no-warehouses", "several", "none-in-stock", "nothing-similar"],
)
def test_the_alternatives_line(products: list[Alternative], line: str) -> None:
    found = Alternatives("WID-1001", "Steel Widget", 0, tuple(products))
    assert describe_alternatives(found) == line


@pytest.mark.integration  # loads the real model (15-25 s on 2 busy cores)
def test_the_real_encoder_finds_the_same_kind_of_product() -> None:
    """all-MiniLM-L6-v2 from its PyPI package: a widget's close products are widgets of its
    kind, and a cable, a nut and a glove are not similar at all."""
    from retrieval.embedding import SentenceTransformerEmbedder

    blurb = "General-purpose widget for assembly lines and maintenance kits."
    names = [
        ("WID-1090", "Black Aluminium Widget XL", "Widgets", blurb),
        ("WID-1156", "Grey Aluminium Widget XL", "Widgets", blurb),
        ("WID-1106", "Aluminium Widget XL", "Widgets", blurb),
        ("CAB-1022", "HDMI Cable 2m", "Cables", "Fully shielded cable with moulded connectors."),
        ("FAS-1070", "M8 Hex Nut (100 pack)", "Fasteners", "Zinc-plated steel fastener."),
        ("SAF-1023", "Nitrile Gloves Size L (10 pairs)", "Safety", "Personal protective gear."),
    ]
    products = [
        CatalogueProduct(sku, sku, name, category, f"{name}. {description}")
        for sku, name, category, description in names
    ]
    vectors = EmbeddingCache().vectors(SentenceTransformerEmbedder("all-MiniLM-L6-v2"), products)

    scores = similarities(vectors, 0)

    close = close_products(scores, 0, min_similarity=MIN_SIMILARITY, margin=0.05, shortlist=5)
    assert set(close) == {1, 2}
    assert max(scores[3:]) < MIN_SIMILARITY


async def test_asking_for_alternatives_names_the_product_and_what_is_in_stock_like_it(
    erp_db: Session, domain: dict
) -> None:
    from actions.inventory import ActionProductAlternatives

    (sku, name, category), *_ = out_of_stock(erp_db)
    others = in_stock(erp_db, 4, category)
    use_encoder(GroupEncoder({name: 0, **{other[1]: 0 for other in others}}))
    dispatcher = CollectingDispatcher()

    await ActionProductAlternatives().run(dispatcher, tracker({"sku": sku}), domain)

    reply = texts(dispatcher)
    assert reply.startswith(f"{name} ({sku}) is out of stock. Similar products in stock: ")
    assert all(f"({o_sku})" in reply for o_sku, _, _ in others[:3]), reply
