"""Products named in free text: names with typos and plurals, SKUs, choices, hostile input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from benchmarks.erp_products import catalogue, evaluate, questions
from demo.seed import seed
from erp.db import make_engine
from erp.models import Product
from erp.product_names import ProductLookup, clear_name_index, lookup_products
from tests.erp.conftest import SEED_TODAY


@pytest.fixture(scope="module")
def demo_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The full demo catalogue (500 products), as `python -m demo seed` makes it."""
    path: Path = tmp_path_factory.mktemp("demo") / "erp.db"
    engine = make_engine(f"sqlite:///{path}")
    seed(engine, today=SEED_TODAY, progress=False)
    yield engine
    engine.dispose()


@pytest.fixture
def demo(demo_engine: Engine) -> Iterator[Session]:
    with Session(demo_engine) as session:
        yield session


def sku_of(session: Session, name: str) -> str:
    sku = session.scalar(select(Product.sku).where(Product.name == name))
    assert sku is not None, f"{name} is not in the catalogue"
    return sku


def answer(lookup: ProductLookup) -> str | None:
    return lookup.product.name if lookup.product else None


@pytest.mark.parametrize(
    ("message", "name"),
    [
        ("is Steel Widget in stock", "Steel Widget"),
        ("got any White Titanium Widget left?", "White Titanium Widget"),
        ("is Microfibre Cloth Blue (10 pack) in stock", "Microfibre Cloth Blue (10 pack)"),
        ("do u have white titanum widgets", "White Titanium Widget"),
        ("STEEL WIDGETS??", "Steel Widget"),
        ("need 40 x blu steel widgit", "Blue Steel Widget"),
        ("blue microfiber cloths", "Microfibre Cloth Blue (10 pack)"),
        ("any x200 controlers", "X200 Controller"),
        ("usb c cable 2 metre", "USB-C Cable 2m"),
        ("gray steel widget mini", "Grey Steel Widget Mini"),
        ("cut resistant gloves size m (10 pairs)", "Cut-Resistant Gloves Size M (10 pairs)"),
    ],
    ids=[
        "issue-steel",
        "issue-white-titanium",
        "issue-microfibre",
        "typo-and-plural",
        "shouting-plural",
        "quantity-and-two-typos",
        "spelling-and-order",
        "plural-typo",
        "units-written-out",
        "synonym",
        "size-letter-before-a-number",
    ],
)
def test_a_named_product_is_the_single_answer(demo: Session, message: str, name: str) -> None:
    lookup = lookup_products(message, session=demo)
    assert answer(lookup) == name
    assert lookup.matches == (lookup.product,)


@pytest.mark.parametrize(
    "written", ["wid 1001", "Wid-1001", "wID1001", " wid_1001 ", "is WiD - 1001 in stock?"]
)
def test_an_sku_in_any_spelling_is_exact(demo: Session, written: str) -> None:
    lookup = lookup_products(written, session=demo)
    assert lookup.product is not None
    assert (lookup.product.sku, lookup.product.score) == ("WID-1001", 100.0)


@pytest.mark.parametrize(
    ("message", "shared"),
    [("got any yellow hi vis vests?", "Hi-Vis Vest Yellow"), ("widget", "Widget")],
    ids=["sizes-of-one-vest", "one-generic-word"],
)
def test_several_close_names_are_offered(demo: Session, message: str, shared: str) -> None:
    lookup = lookup_products(message, session=demo)
    assert lookup.product is None
    assert 2 <= len(lookup.matches) <= 4
    assert all(shared in match.name for match in lookup.matches)
    scores = [match.score for match in lookup.matches]
    assert scores == sorted(scores, reverse=True)


def test_choices_respect_the_limit(demo: Session) -> None:
    assert len(lookup_products("widget", session=demo, limit=2).matches) == 2
    with pytest.raises(ValueError, match="limit must be greater than 0, got 0"):
        lookup_products("widget", session=demo, limit=0)


@pytest.mark.parametrize(
    "message",
    ["is it in stock?", "do you have the purple unicorn saddle", "WID-9999", "hello"],
    ids=["no-name", "unknown-name", "unknown-sku", "chit-chat"],
)
def test_unknown_names_find_nothing(demo: Session, message: str) -> None:
    assert lookup_products(message, session=demo) == ProductLookup((), None)


@pytest.mark.parametrize(
    "message",
    [
        "'; DROP TABLE products; --",
        "' OR '1'='1",
        "% _ \\ ' \" ; --",
        "blue widget " * 167,
        "🦄🔥📦 🦄🔥📦",
        "\x00\x1b[31m\x07\x7f",
        "",
        "   \n\t ",
    ],
    ids=[
        "drop-table",
        "or-1-1",
        "like-wildcards",
        "2000-chars",
        "emoji",
        "control",
        "empty",
        "blank",
    ],
)
def test_hostile_input_finds_nothing_and_raises_nothing(session: Session, message: str) -> None:
    assert lookup_products(message, session=session) == ProductLookup((), None)
    assert session.scalar(select(Product.sku).limit(1)) is not None


def test_control_characters_inside_a_name_are_ignored(demo: Session) -> None:
    assert answer(lookup_products("steel\x00 widget\x1b", session=demo)) == "Steel Widget"


def test_the_name_index_is_built_once_per_engine(demo_engine: Engine) -> None:
    clear_name_index()
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(demo_engine, "before_cursor_execute", record)
    try:
        with Session(demo_engine) as session:
            lookup_products("steel widget", session=session)
            first = len(statements)
            lookup_products("white titanium widget", session=session)
    finally:
        event.remove(demo_engine, "before_cursor_execute", record)
    assert first == 1 and "products" in statements[0]
    assert len(statements) == first


def test_quick_benchmark_resolves_at_least_97_percent(demo: Session) -> None:
    items = questions(catalogue(demo), 150, seed=4242)
    result = evaluate(items, session=demo)
    assert result.questions == 150
    assert result.resolved_rate >= 0.97, result.failures
    assert result.wrong == 0, result.failures
