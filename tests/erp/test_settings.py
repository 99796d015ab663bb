"""The ERP layer's variables: relative paths from the project root, bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from envvars import ROOT, SettingsError
from erp.access import verification_secret
from erp.audit import audit_trail
from erp.db import make_engine
from erp.samples import default_source
from erp.schema import DEFAULT_MAPPING, mapping_path
from erp.settings import AUDIT_DB, BENCHMARKS_DIR, POOL_SIZE


def test_the_mapping_is_the_demo_one_unless_named() -> None:
    assert mapping_path({}) == DEFAULT_MAPPING == ROOT / "erp" / "mappings" / "demo.yml"
    assert mapping_path({"ERP_MAPPING": "  "}) == DEFAULT_MAPPING


def test_a_relative_mapping_is_read_from_the_project_root() -> None:
    assert mapping_path({"ERP_MAPPING": "erp/mappings/northwind.yml"}) == (
        ROOT / "erp" / "mappings" / "northwind.yml"
    )
    assert mapping_path({"ERP_MAPPING": "/srv/erp/ours.yml"}) == Path("/srv/erp/ours.yml")


def test_relative_files_and_folders_are_read_from_the_project_root() -> None:
    assert AUDIT_DB.read({"AUDIT_DB": "state/audit.db"}) == ROOT / "state" / "audit.db"
    assert AUDIT_DB.read({}) == ROOT / "var" / "audit.db"
    assert BENCHMARKS_DIR.read({"BENCHMARKS_DIR": "samples"}) == ROOT / "samples"
    assert BENCHMARKS_DIR.default_text == "../shared/benchmarks"


def test_the_audit_trail_opens_where_audit_db_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDIT_DB", str(tmp_path / "trail.db"))
    monkeypatch.delenv("ACTIONS_STATE_DATABASE_URL", raising=False)
    audit_trail.cache_clear()
    try:
        audit_trail()
        assert (tmp_path / "trail.db").exists()
    finally:
        if audit_trail.cache_info().currsize:
            audit_trail().close()
        audit_trail.cache_clear()


def test_the_samples_are_found_in_benchmarks_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHMARKS_DIR", "/data/benchmarks")
    assert default_source("northwind") == Path("/data/benchmarks/northwind/northwind.db")


def test_a_short_secret_names_the_variable() -> None:
    with pytest.raises(SettingsError) as raised:
        verification_secret({"VERIFICATION_SECRET": "short"})
    assert str(raised.value) == "VERIFICATION_SECRET must be at least 16 characters, got 5"


def test_a_bad_pool_size_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ERP_POOL_SIZE", "1000")
    with pytest.raises(SettingsError) as raised:
        make_engine(f"sqlite:///{tmp_path / 'pool.db'}", read_only=True)
    assert str(raised.value) == "ERP_POOL_SIZE must be between 1 and 200, got 1000"
    assert POOL_SIZE.default == 10
