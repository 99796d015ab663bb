"""The ERP services on other companies' schemas, switched by ERP_MAPPING alone: Northwind
(SQLite) and classicmodels (MariaDB, read through a SELECT-only user). The demo schema runs
the same code through erp/mappings/demo.yml in every other test of tests/erp."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from erp import customers, inventory, invoices, orders, product_names
from erp.db import make_engine
from erp.errors import AccessDenied, InvalidIdentifier, NotKept, RecordNotFound
from erp.schema import MappingUnusable, forget_schemas, schema_for
from tests.erp.test_mapping_check import MAPPINGS, NORTHWIND, classicmodels_reader, need

__all__ = ["classicmodels_reader"]  # the fixture, shared with test_mapping_check

TODAY = date(2026, 12, 1)


def mapped_session(monkeypatch: pytest.MonkeyPatch, mapping: str, url: str) -> Iterator[Session]:
    monkeypatch.setenv("ERP_MAPPING", str(MAPPINGS / mapping))
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()
        forget_schemas()


@pytest.fixture
def northwind(monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    yield from mapped_session(monkeypatch, "northwind.yml", f"sqlite:///{need(NORTHWIND)}")


def test_a_northwind_order_reads_with_its_derived_status_and_carrier(northwind: Session) -> None:
    order = orders.get_order_status("10248", customer_id="VINET", session=northwind)  # type: ignore[arg-type]
    assert (order.order_number, order.status, order.order_date) == (
        "10248",
        "shipped",
        date(2016, 7, 4),
    )
    assert order.line_count == 3 and order.currency == "USD" and order.total is None
    assert order.shipment is not None and order.shipment.carrier == "Federal Shipping"
    unshipped = orders.get_order_status("#11008", customer_id="ERNSH", session=northwind)  # type: ignore[arg-type]
    assert unshipped.status == "confirmed" and unshipped.shipment is None


def test_northwind_orders_are_only_their_customer_s(northwind: Session) -> None:
    with pytest.raises(AccessDenied):
        orders.get_order_status("10248", customer_id="ALFKI", session=northwind)  # type: ignore[arg-type]
    with pytest.raises(RecordNotFound):
        orders.get_order_status("99999", customer_id="VINET", session=northwind)  # type: ignore[arg-type]
    with pytest.raises(InvalidIdentifier, match="characters that cannot be in one"):
        orders.order_owner("SO-100123; DROP TABLE Orders", session=northwind)


def test_northwind_customers_prove_who_they_are_with_postcode_and_phone(northwind: Session) -> None:
    assert orders.order_customer_if_identity_matches("10248", "51100", session=northwind) == "VINET"
    assert (
        orders.order_customer_if_identity_matches("10248", "26 47 15 10", session=northwind)
        == "VINET"
    )
    assert orders.order_customer_if_identity_matches("10248", "12209", session=northwind) is None
    assert (
        customers.find_customer({"postcode": "12209", "phone": "030 0074321"}, session=northwind)
        == "ALFKI"
    )
    assert (
        customers.find_customer({"postcode": "12209", "phone": "030 0000000"}, session=northwind)
        is None
    )
    # The demo's factors are not this ERP's: nobody verifies with an email here.
    assert (
        customers.verify_customer(email="a@b.example", postcode="12209", session=northwind) is None
    )


def test_northwind_stock_is_one_figure_with_units_on_order(northwind: Session) -> None:
    report = inventory.get_stock("11", today=TODAY, session=northwind)
    assert (report.sku, report.name, report.total_available) == ("11", "Queso Cabrales", 22)
    assert report.next_incoming is not None
    assert (report.next_incoming.quantity, report.next_incoming.eta) == (30, None)
    empty = inventory.get_stock("5", today=TODAY, session=northwind)
    assert empty.total_available == 0 and empty.next_incoming is None


def test_northwind_products_are_found_by_name(northwind: Session) -> None:
    lookup = product_names.lookup_products("got any queso cabrales left?", session=northwind)
    assert lookup.product is not None and lookup.product.sku == "11"


def test_an_erp_without_invoices_says_so(northwind: Session) -> None:
    with pytest.raises(NotKept, match="keeps no invoices"):
        invoices.get_invoice_status("10248", customer_id="VINET", today=TODAY, session=northwind)  # type: ignore[arg-type]
    with pytest.raises(NotKept):
        invoices.list_unpaid_invoices(customer_id="VINET", today=TODAY, session=northwind)  # type: ignore[arg-type]


def test_a_mapping_that_does_not_fit_the_database_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The demo mapping on Northwind: nothing resolves, and the error lists why.
    session = next(mapped_session(monkeypatch, "demo.yml", f"sqlite:///{need(NORTHWIND)}"))
    with pytest.raises(MappingUnusable, match="no table 'sales_orders'"):
        schema_for(session)


@pytest.fixture
def classicmodels(classicmodels_reader: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    yield from mapped_session(monkeypatch, "classicmodels.yml", classicmodels_reader)


@pytest.mark.integration
def test_classicmodels_orders_read_in_the_assistant_s_words(classicmodels: Session) -> None:
    shipped = orders.get_order_status("10100", customer_id=363, session=classicmodels)
    assert (shipped.status, shipped.line_count, shipped.currency) == ("shipped", 4, "USD")
    assert shipped.shipment is not None and shipped.shipment.carrier == ""
    assert (
        orders.get_order_status("10167", customer_id=448, session=classicmodels).status
        == "cancelled"
    )
    assert (
        orders.get_order_status("10420", customer_id=282, session=classicmodels).status == "picking"
    )
    assert (
        orders.get_order_status("10406", customer_id=145, session=classicmodels).status == "on_hold"
    )
    assert (
        orders.order_customer_if_identity_matches("10100", "40.32.2555", session=classicmodels)
        is None
    )
    assert (
        customers.find_customer({"postcode": "44000", "phone": "40 32 2555"}, session=classicmodels)
        == 103
    )


@pytest.mark.integration
def test_classicmodels_stock_and_missing_invoices(classicmodels: Session) -> None:
    report = inventory.get_stock("s10_1678", today=TODAY, session=classicmodels)
    assert (report.sku, report.total_available, report.next_incoming) == ("S10_1678", 7933, None)
    with pytest.raises(NotKept, match="no invoices"):
        invoices.invoice_owner("10100", session=classicmodels)


TINY_SCHEMA = """
CREATE TABLE clients (id INTEGER PRIMARY KEY, name TEXT, mail TEXT, zip TEXT);
CREATE TABLE carriers (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE orders (id INTEGER PRIMARY KEY, ext_no TEXT, client_id INTEGER, placed DATE,
                     state TEXT, sent_on DATE, carrier_id INTEGER);
CREATE TABLE lines (order_id INTEGER, item TEXT, qty INTEGER);
CREATE TABLE items (code TEXT PRIMARY KEY, title TEXT, qty INTEGER);
INSERT INTO clients VALUES (7, 'Acme', 'buyer@acme.example', 'M1 1AE');
INSERT INTO carriers VALUES (1, 'DHL');
INSERT INTO orders VALUES (41, 'O-900', 7, '2026-11-02', 'Sent', '2026-11-03', 1);
INSERT INTO lines VALUES (41, 'A1', 2), (41, 'B2', 1), (42, 'A1', 5);
INSERT INTO items VALUES ('A1', 'Anvil', 3);
"""
TINY_MAPPING = """\
mapping: 1
name: Tiny
currency: EUR
identity: [email, postcode]
ids:
  order: {pattern: 'O-\\d+', example: O-12}
concepts:
  customer:
    table: clients
    columns: {key: id, name: name, email: mail, postcode: zip}
  order:
    table: orders
    columns: {key: id, number: ext_no, customer: client_id, date: placed}
    status:
      column: state
      values: {Open: confirmed, Sent: shipped}
  order_line:
    table: lines
    columns: {order: order_id, product: item, quantity: qty}
  product:
    table: items
    columns: {key: code, name: title}
  stock:
    table: items
    columns: {product: code, available: qty}
  supply: {missing: none}
  shipment:
    table: orders
    columns:
      order: id
      shipped_date: sent_on
      carrier: {table: carriers, key: id, via: carrier_id, column: name}
  invoice: {missing: none}
  payment: {missing: none}
"""


def test_an_order_quoted_by_its_number_is_joined_to_its_lines_by_its_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import sqlite3

    database = tmp_path / "tiny.db"
    with sqlite3.connect(database) as connection:
        connection.executescript(TINY_SCHEMA)
    mapping = tmp_path / "tiny.yml"
    mapping.write_text(TINY_MAPPING)
    monkeypatch.setenv("ERP_MAPPING", str(mapping))
    engine = make_engine(f"sqlite:///{database}")
    try:
        with Session(engine) as session:
            order = orders.get_order_status("o-900", customer_id=7, session=session)
            assert (
                orders.order_customer_if_identity_matches("O-900", "m1 1ae", session=session) == 7
            )
            with pytest.raises(RecordNotFound):
                orders.get_order_status("O-41", customer_id=7, session=session)
    finally:
        engine.dispose()
        forget_schemas()
    assert (order.order_number, order.status, order.line_count, order.currency) == (
        "O-900", "shipped", 2, "EUR"
    )  # fmt: skip
    assert order.shipment is not None and order.shipment.carrier == "DHL"
