"""The launcher's ERP step: the demo database is seeded on first run; another company's
database (ERP_MAPPING) is never written to, only checked that its mapping resolves."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

import demo.seed as demo_seed
from bot.launcher import ensure_seeded
from erp.db import make_engine, reset_engine_cache
from tests.erp.test_mapping_check import MAPPINGS, NORTHWIND, need


def test_another_companys_database_is_checked_not_seeded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "northwind.db"
    shutil.copy(need(NORTHWIND), copy)
    before = copy.read_bytes()
    monkeypatch.setenv("ERP_MAPPING", str(MAPPINGS / "northwind.yml"))
    monkeypatch.setenv("ERP_DATABASE_URL", f"sqlite:///{copy}")
    reset_engine_cache()

    assert "northwind.yml resolves" in ensure_seeded()
    assert copy.read_bytes() == before  # not a byte written


def test_a_mapping_that_does_not_resolve_stops_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.db"
    with make_engine(f"sqlite:///{other}").begin() as connection:
        connection.execute(text("CREATE TABLE Customers (id INTEGER PRIMARY KEY)"))
    monkeypatch.setenv("ERP_MAPPING", str(MAPPINGS / "northwind.yml"))
    monkeypatch.setenv("ERP_DATABASE_URL", f"sqlite:///{other}")
    with pytest.raises(SystemExit, match="does not resolve.*no table 'Orders'"):
        ensure_seeded()
    monkeypatch.setenv("ERP_DATABASE_URL", f"sqlite:///{tmp_path / 'missing.db'}")
    with pytest.raises(SystemExit, match="Cannot read the ERP database"):
        ensure_seeded()
    assert not (tmp_path / "missing.db").exists()  # read-only: nothing created either


def test_the_demo_database_is_seeded_on_first_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "demo.db"
    monkeypatch.delenv("ERP_MAPPING", raising=False)
    monkeypatch.setenv("ERP_DATABASE_URL", f"sqlite:///{database}")

    real_seed = demo_seed.seed
    monkeypatch.setattr(
        demo_seed, "seed", lambda engine, **_: real_seed(engine, scale=0.01, progress=False)
    )
    ensure_seeded()
    engine = make_engine(f"sqlite:///{database}")
    try:
        assert "sales_orders" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_a_demo_database_seeded_by_an_older_version_is_seeded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    database = tmp_path / "old.db"
    real_seed = demo_seed.seed
    real_seed(make_engine(f"sqlite:///{database}"), scale=0.01, progress=False)
    old = make_engine(f"sqlite:///{database}")
    with old.begin() as connection:  # as seeded before orders had delivery addresses
        connection.execute(text("ALTER TABLE sales_orders DROP COLUMN delivery_street"))
    old.dispose()
    monkeypatch.delenv("ERP_MAPPING", raising=False)
    monkeypatch.setenv("ERP_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setattr(
        demo_seed, "seed", lambda engine, **_: real_seed(engine, scale=0.01, progress=False)
    )

    assert "schema changed since it was seeded" in ensure_seeded()
    engine = make_engine(f"sqlite:///{database}")
    try:
        columns = {c["name"] for c in inspect(engine).get_columns("sales_orders")}
        assert "delivery_street" in columns
    finally:
        engine.dispose()
