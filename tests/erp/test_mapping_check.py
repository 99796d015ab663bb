"""`python -m erp check-mapping` against live databases: the demo schema on each backend,
Northwind on SQLite, classicmodels on MariaDB through a read-only user, and broken mappings
failing with the line that is wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from erp.db import make_engine, ping
from erp.mapping.resolve import check_mapping
from erp.mapping.spec import load_mapping
from erp.samples import grant_reader, load_classicmodels
from tests.erp.conftest import SERVER_URLS

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = ROOT / "erp" / "mappings"
BENCHMARKS = Path(os.environ.get("BENCHMARKS_DIR", ROOT.parent / "shared" / "benchmarks"))
NORTHWIND = BENCHMARKS / "northwind" / "northwind.db"
CLASSICMODELS_SQL = BENCHMARKS / "classicmodels" / "classicmodels.sql"


def need(path: Path) -> Path:
    """A shared benchmark file: skipped locally when absent, a failure in CI."""
    if not path.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing (../shared/benchmarks)")
        pytest.skip(f"{path} is missing")
    return path


def run_check(mapping: Path, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "erp", "check-mapping", str(mapping), "--url", url],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_the_demo_schema_is_one_mapping_among_others(erp_engine: Engine) -> None:
    report = check_mapping(load_mapping(MAPPINGS / "demo.yml"), erp_engine)
    assert report.problems == []
    rows = {concept.name: concept.rows for concept in report.concepts}
    assert all(count and count > 0 for count in rows.values()), rows
    stock = next(c for c in report.concepts if c.name == "stock")
    assert stock.sample is not None and stock.sample["city"]  # read through the lookup


def test_northwind_resolves_and_the_command_says_so() -> None:
    done = run_check(MAPPINGS / "northwind.yml", f"sqlite:///{need(NORTHWIND)}")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "All 7 declared concepts resolve (2 declared missing)." in out
    assert "ok  order      Orders: 830 rows" in out
    assert "status: from ShippedDate: set means shipped, empty means confirmed" in out
    assert "carrier=Federal Shipping" in out  # Shippers.CompanyName through Orders.ShipVia
    assert "--  invoice    missing:" in out
    # Identity factors are masked in the sample: the report may be pasted anywhere.
    assert "030-0074321" not in out and "12209" not in out


def test_a_wrong_column_fails_with_its_line_and_a_suggestion(tmp_path: Path) -> None:
    mapping = (MAPPINGS / "northwind.yml").read_text()
    broken = tmp_path / "broken.yml"
    broken.write_text(mapping.replace("name: ProductName", "name: ProductNam"))
    line = next(i for i, text in enumerate(broken.read_text().splitlines(), 1)
                if "ProductNam" in text)  # fmt: skip

    done = run_check(broken, f"sqlite:///{need(NORTHWIND)}")

    assert done.returncode == 1
    assert (
        f"error: {broken}:{line}: Products has no column 'ProductNam' (did you mean "
        "'ProductName'" in done.stderr
    )
    assert "1 of 7 declared concepts do not resolve." in done.stdout


def test_a_status_value_without_a_meaning_fails(tmp_path: Path, erp_engine: Engine) -> None:
    mapping = (MAPPINGS / "demo.yml").read_text().replace("on_hold: on_hold}", "}")
    path = tmp_path / "demo-no-hold.yml"
    path.write_text(mapping)
    report = check_mapping(load_mapping(path), erp_engine)
    [problem] = report.problems
    assert "order status values with no meaning: 'on_hold'" in problem
    assert problem.startswith(f"{path}:")


def test_a_structural_mistake_stops_before_the_database(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    mapping = (MAPPINGS / "northwind.yml").read_text()
    path.write_text(mapping.replace("identity: [postcode, phone]", "identity: [email, phone]"))
    done = run_check(path, "sqlite:///" + str(tmp_path / "absent.db"))
    assert done.returncode == 1
    assert "identity factor 'email' is not a mapped column of customer" in done.stderr
    assert not (tmp_path / "absent.db").exists()


def test_a_missing_sqlite_file_is_not_created() -> None:
    done = run_check(MAPPINGS / "northwind.yml", "sqlite:////nonexistent/dir/northwind.db")
    assert done.returncode == 1
    assert "no SQLite database at /nonexistent/dir/northwind.db" in done.stderr


@pytest.fixture(scope="module")
def classicmodels_reader() -> Iterator[str]:
    """classicmodels loaded into the local MariaDB, and the URL of a user who may only read it."""
    variable, default = SERVER_URLS["mariadb"]
    admin_url = make_url(os.environ.get(variable) or default).set(database="classicmodels")
    dump = need(CLASSICMODELS_SQL)
    server = make_engine(admin_url.set(database="mysql").render_as_string(hide_password=False))
    try:
        reachable = ping(server)
    finally:
        server.dispose()
    if not reachable:
        if os.environ.get("CI") == "true":
            pytest.fail("MariaDB is not reachable")
        pytest.skip("MariaDB is not reachable")
    admin = make_engine(load_classicmodels(admin_url, dump).render_as_string(hide_password=False))
    try:
        reader = grant_reader(admin, "erp_reader")
    finally:
        admin.dispose()
    yield reader.render_as_string(hide_password=False)


@pytest.mark.integration
def test_classicmodels_resolves_on_mariadb_through_a_read_only_user(
    classicmodels_reader: str,
) -> None:
    done = run_check(MAPPINGS / "classicmodels.yml", classicmodels_reader)

    assert done.returncode == 0, done.stderr
    assert "All 7 declared concepts resolve (2 declared missing)." in done.stdout
    assert "ok  order      orders: 326 rows" in done.stdout
    assert "ok  payment    payments: 273 rows" in done.stdout
    assert "status: from status, 6 values mapped" in done.stdout
    # The password never reaches the output.
    assert make_url(classicmodels_reader).password not in done.stdout + done.stderr
    reader = make_engine(classicmodels_reader)
    try:
        with pytest.raises((OperationalError, ProgrammingError)), reader.begin() as connection:
            connection.execute(text("UPDATE orders SET status = 'Cancelled'"))
    finally:
        reader.dispose()
