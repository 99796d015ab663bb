"""The shipped mappings on every database: Northwind and classicmodels copied to SQLite,
PostgreSQL and MariaDB (erp/samples.py) resolve there, and the ERP services give the same
answers on each. The demo mapping runs on all three in the rest of tests/erp."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, MetaData, Table, func, inspect, make_url, select, types, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from benchmarks.erp_mapping import Run, bench_mapping, markdown
from erp import customers, inventory, invoices, orders, product_names
from erp.db import make_engine, ping
from erp.errors import AccessDenied, NotKept
from erp.mapping.resolve import check_mapping
from erp.mapping.spec import load_mapping
from erp.samples import (
    copy_database,
    create_database,
    grant_reader,
    load_classicmodels,
    portable_type,
)
from erp.schema import as_date, forget_schemas, schema_for
from tests.erp.conftest import SERVER_URLS, _unreachable
from tests.erp.test_mapping_check import CLASSICMODELS_SQL, MAPPINGS, NORTHWIND, ROOT, need

TODAY = date(2026, 12, 1)
VINET_PHONE = "26.47.15.10"  # Customers.Phone of VINET in Northwind
SERVERS = [
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.integration),
    pytest.param("mariadb", id="mariadb", marks=pytest.mark.integration),
]
BACKENDS = [pytest.param("sqlite", id="sqlite"), *SERVERS]


def _server_url(backend: str, database: str) -> str:
    """``database`` on the test server for ``backend``, created if missing."""
    variable, default = SERVER_URLS[backend]
    url = make_url(os.environ.get(variable) or default).set(database=database)
    maintenance = url.set(database="postgres" if backend == "postgresql" else "mysql")
    server = make_engine(maintenance.render_as_string(hide_password=False))
    try:
        if not ping(server):
            _unreachable(backend, server.url.render_as_string(hide_password=True))
    finally:
        server.dispose()
    create_database(url)
    return url.render_as_string(hide_password=False)


def _target(backend: str, database: str, folder: Path) -> Engine:
    if backend == "sqlite":
        return make_engine(f"sqlite:///{folder / f'{database}.db'}")
    return make_engine(_server_url(backend, database))


@pytest.fixture(scope="session", params=BACKENDS)
def northwind_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """Northwind copied from its SQLite file, once per backend."""
    source = make_engine(f"sqlite:///{need(NORTHWIND)}")
    target = _target(request.param, "northwind", tmp_path_factory.mktemp("northwind"))
    try:
        copy_database(source, target)
    finally:
        source.dispose()
    yield target
    target.dispose()


@pytest.fixture(scope="session")
def classicmodels_on_mariadb() -> Iterator[Engine]:
    """classicmodels from its MySQL dump, on MariaDB: where every other copy comes from."""
    dump = need(CLASSICMODELS_SQL)
    url = load_classicmodels(_server_url("mariadb", "classicmodels"), dump)
    engine = make_engine(url.render_as_string(hide_password=False))
    yield engine
    engine.dispose()


@pytest.fixture(
    scope="session",
    # Every copy starts from MariaDB, so even the SQLite one needs the server.
    params=[pytest.param("sqlite", id="sqlite", marks=pytest.mark.integration), *SERVERS],
)
def classicmodels_engine(
    request: pytest.FixtureRequest,
    classicmodels_on_mariadb: Engine,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Engine]:
    if request.param == "mariadb":
        yield classicmodels_on_mariadb
        return
    target = _target(request.param, "classicmodels", tmp_path_factory.mktemp("classicmodels"))
    copy_database(classicmodels_on_mariadb, target)
    yield target
    target.dispose()


def _mapped(engine: Engine, mapping: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    monkeypatch.setenv("ERP_MAPPING", str(MAPPINGS / mapping))
    forget_schemas()
    try:
        with Session(engine) as session:
            yield session
    finally:
        forget_schemas()
        product_names.clear_name_index()


@pytest.fixture
def northwind(northwind_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    yield from _mapped(northwind_engine, "northwind.yml", monkeypatch)


@pytest.fixture
def classicmodels(
    classicmodels_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Session]:
    yield from _mapped(classicmodels_engine, "classicmodels.yml", monkeypatch)


def test_northwind_resolves_on_each_database(northwind_engine: Engine) -> None:
    report = check_mapping(load_mapping(MAPPINGS / "northwind.yml"), northwind_engine)
    assert report.problems == []
    rows = {concept.name: concept.rows for concept in report.concepts}
    assert rows == {
        "customer": 93, "order": 830, "order_line": 2155, "product": 77, "stock": 77,
        "supply": 77, "shipment": 830,
    }  # fmt: skip
    names = inspect(northwind_engine).get_table_names()
    assert "Order Details" in names  # its name kept, space and case
    assert "Invoices" not in names + inspect(northwind_engine).get_view_names()  # a view


def test_northwind_copies_dates_money_and_pictures_as_such(northwind_engine: Engine) -> None:
    copied = MetaData()
    copied.reflect(northwind_engine, only=["Orders", "Products", "Categories"])
    orders_, products, categories = (copied.tables[n] for n in ("Orders", "Products", "Categories"))
    with northwind_engine.connect() as connection:
        ordered, shipped = connection.execute(
            select(orders_.c.OrderDate, orders_.c.ShippedDate).where(orders_.c.OrderID == 10248)
        ).one()
        price = connection.scalar(select(products.c.UnitPrice).where(products.c.ProductID == 1))
        pictures = connection.scalar(select(func.count()).select_from(categories))
        picture = connection.scalar(
            select(categories.c.Picture).where(categories.c.CategoryID == 1)
        )
    assert (ordered, shipped) == (datetime(2016, 7, 4), datetime(2016, 7, 16))
    assert isinstance(price, Decimal) and price == Decimal("18")
    assert pictures == 8 and isinstance(picture, bytes) and len(picture) == 10151


def test_northwind_answers_alike_on_each_database(northwind: Session) -> None:
    order = orders.get_order_status("10248", customer_id="VINET", session=northwind)  # type: ignore[arg-type]
    assert (order.order_number, order.status, order.order_date, order.line_count) == (
        "10248", "shipped", date(2016, 7, 4), 3
    )  # fmt: skip
    assert order.shipment is not None
    assert as_date(order.shipment.shipped_at) == date(2016, 7, 16)
    assert order.shipment.carrier == "Federal Shipping"
    assert order.shipment.estimated_delivery == date(2016, 8, 1)
    unshipped = orders.get_order_status("11008", customer_id="ERNSH", session=northwind)  # type: ignore[arg-type]
    assert (unshipped.status, unshipped.shipment) == ("confirmed", None)
    with pytest.raises(AccessDenied):
        orders.get_order_status("10248", customer_id="ALFKI", session=northwind)  # type: ignore[arg-type]
    with pytest.raises(NotKept):
        invoices.list_unpaid_invoices(customer_id="VINET", today=TODAY, session=northwind)  # type: ignore[arg-type]


def test_northwind_customers_verify_alike_on_each_database(northwind: Session) -> None:
    assert (
        customers.find_customer({"postcode": "51100", "phone": VINET_PHONE}, session=northwind)
        == "VINET"
    )
    assert (
        customers.find_customer({"postcode": "51100", "phone": "26 47 15 99"}, session=northwind)
        is None
    )
    assert orders.order_customer_if_identity_matches("10248", "51100", session=northwind) == "VINET"


def test_northwind_stock_and_names_alike_on_each_database(northwind: Session) -> None:
    lookup = product_names.lookup_products("got any chai?", session=northwind)
    assert lookup.product is not None and (lookup.product.sku, lookup.product.name) == ("1", "Chai")
    stock = inventory.get_stock("1", today=TODAY, session=northwind)
    assert (stock.name, stock.total_available, stock.unit_price) == ("Chai", 39, Decimal("18"))
    assert stock.next_incoming is None  # none on order
    queso = inventory.get_stock("11", today=TODAY, session=northwind)
    assert queso.next_incoming is not None and queso.next_incoming.quantity == 30


@pytest.mark.integration
def test_classicmodels_resolves_on_each_database(classicmodels_engine: Engine) -> None:
    report = check_mapping(load_mapping(MAPPINGS / "classicmodels.yml"), classicmodels_engine)
    assert report.problems == []  # every status value has a meaning there too
    rows = {concept.name: concept.rows for concept in report.concepts}
    assert (rows["order"], rows["order_line"], rows["payment"]) == (326, 2996, 273)


@pytest.mark.integration
def test_classicmodels_answers_alike_on_each_database(classicmodels: Session) -> None:
    shipped = orders.get_order_status("10100", customer_id=363, session=classicmodels)
    assert (shipped.status, shipped.line_count, shipped.order_date) == (
        "shipped",
        4,
        date(2003, 1, 6),
    )
    assert shipped.shipment is not None and as_date(shipped.shipment.shipped_at) == date(
        2003, 1, 10
    )
    statuses = {
        number: orders.get_order_status(number, customer_id=owner, session=classicmodels).status
        for number, owner in (("10167", 448), ("10420", 282), ("10406", 145))
    }
    assert statuses == {"10167": "cancelled", "10420": "picking", "10406": "on_hold"}
    assert (
        customers.find_customer({"postcode": "44000", "phone": "40 32 2555"}, session=classicmodels)
        == 103
    )
    stock = inventory.get_stock("s10_1678", today=TODAY, session=classicmodels)
    assert (stock.sku, stock.total_available, stock.unit_price) == (
        "S10_1678",
        7933,
        Decimal("95.70"),
    )
    schema = schema_for(classicmodels)
    paid = classicmodels.scalar(
        select(func.sum(schema.c("payment", "amount"))).where(
            schema.c("payment", "customer") == 103
        )
    )
    assert paid == Decimal("22314.36")
    with pytest.raises(NotKept):
        invoices.invoice_owner("10100", session=classicmodels)


def test_a_reader_may_read_the_copy_and_nothing_else(northwind_engine: Engine) -> None:
    if northwind_engine.url.get_backend_name() == "sqlite":
        with pytest.raises(ValueError, match="no database users"):
            grant_reader(northwind_engine, "erp_sample_reader")
        return
    url = grant_reader(northwind_engine, "erp_sample_reader")
    reader = make_engine(url.render_as_string(hide_password=False))
    try:
        report = check_mapping(load_mapping(MAPPINGS / "northwind.yml"), reader)
        assert report.resolved, report.problems
        shippers = Table("Shippers", MetaData(), autoload_with=reader)
        with pytest.raises((OperationalError, ProgrammingError)), reader.begin() as connection:
            connection.execute(update(shippers).values(CompanyName="Nobody"))
    finally:
        reader.dispose()


def test_a_copy_starts_afresh_and_may_take_some_tables(tmp_path: Path) -> None:
    source = make_engine(f"sqlite:///{need(NORTHWIND)}")
    target = make_engine(f"sqlite:///{tmp_path / 'copy.db'}")
    try:
        first = copy_database(source, target)
        assert copy_database(source, target) == first  # dropped and copied again, not doubled
        assert copy_database(source, target, tables=["Order Details"]) == {"Order Details": 2155}
        with pytest.raises(ValueError, match="no table 'Invoices'"):
            copy_database(source, target, tables=["Invoices"])  # a view
    finally:
        source.dispose()
        target.dispose()


@pytest.mark.parametrize(
    ("reflected", "key", "expected"),
    [
        (sqlite.NUMERIC(), False, "NUMERIC(19, 4)"),
        (sqlite.DATETIME(), False, "DATETIME"),
        (sqlite.REAL(), False, "DOUBLE"),
        (types.NullType(), False, "TEXT"),
        (sqlite.TEXT(), True, "VARCHAR(255)"),
        (mysql.VARCHAR(50, collation="latin1_swedish_ci"), True, "VARCHAR(50)"),
        (mysql.MEDIUMBLOB(), False, "BLOB"),
        (mysql.DECIMAL(10, 2), False, "NUMERIC(10, 2)"),
        (mysql.SMALLINT(display_width=6), False, "SMALLINT"),
        (postgresql.TIMESTAMP(timezone=True), False, "DATETIME"),
    ],
    ids=["sqlite-numeric", "sqlite-datetime", "sqlite-real", "untyped", "text-key",
         "mysql-varchar-collation", "mysql-mediumblob", "mysql-decimal", "mysql-smallint",
         "pg-timestamptz"],
)  # fmt: skip
def test_reflected_types_become_portable(
    reflected: types.TypeEngine[object], key: bool, expected: str
) -> None:
    assert str(portable_type(reflected, key=key).compile()) == expected


def test_text_and_blobs_are_long_on_mariadb() -> None:
    dialect = mysql.dialect()
    assert str(portable_type(sqlite.TEXT()).compile(dialect=dialect)) == "LONGTEXT"
    assert str(portable_type(sqlite.BLOB()).compile(dialect=dialect)) == "LONGBLOB"


def test_a_type_without_a_portable_form_is_refused() -> None:
    with pytest.raises(ValueError, match="no portable form"):
        portable_type(postgresql.ARRAY(types.Integer()))


def test_load_sample_puts_northwind_in_a_new_database_and_checks_its_mapping(
    tmp_path: Path,
) -> None:
    target = tmp_path / "sub" / "northwind.db"
    done = subprocess.run(
        [sys.executable, "-m", "erp", "load-sample", "northwind", "--url", f"sqlite:///{target}",
         "--source", str(need(NORTHWIND))],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"Loaded northwind into sqlite:///{target}: 13 tables, 3,310 rows" in done.stdout
    assert "erp/mappings/northwind.yml resolves there" in done.stdout
    assert (
        f"ERP_MAPPING=erp/mappings/northwind.yml ERP_DATABASE_URL='sqlite:///{target}'"
        in done.stdout
    )


def test_load_sample_says_where_the_classicmodels_dump_can_go(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "erp", "load-sample", "classicmodels", "--url",
         f"sqlite:///{tmp_path / 'c.db'}", "--source", str(need(CLASSICMODELS_SQL))],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 1
    assert "load it into MariaDB first" in done.stderr
    assert not (tmp_path / "c.db").exists()


def test_the_bench_times_each_mapped_concept(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(f"sqlite:///{need(NORTHWIND)}")
    monkeypatch.delenv("ERP_MAPPING", raising=False)
    try:
        timings = bench_mapping("northwind", engine, backend="sqlite", reps=2)
    finally:
        engine.dispose()
    assert "ERP_MAPPING" not in os.environ  # put back as it was
    concepts = [t.concept for t in timings]
    assert "order status by number" in concepts and "stock of a product" in concepts
    assert not any("invoice" in c or "payment" in c for c in concepts)  # Northwind has none
    assert all(t.reps == 2 and 0 < t.p50_ms <= t.p95_ms for t in timings)
    table = markdown(Run(reps=2, scale=1.0, timings=timings))
    assert "| northwind | order status by number | " in table and "SQLite p50 / p95" in table
