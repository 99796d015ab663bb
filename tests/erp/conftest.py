"""ERP fixtures: one small seeded database per backend (SQLite, PostgreSQL, MariaDB)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session

from demo.seed import seed
from erp.db import make_engine, ping
from tests.actions_state import actions_state_postgres, state_backend

__all__ = ["actions_state_postgres", "state_backend"]  # fixtures for the audit trail's tests

SEED_TODAY = date(2026, 11, 1)
SEED_SCALE = 0.05
TEST_DATABASE = "erp_test"
SERVER_URLS = {
    "postgresql": (
        "ERP_TEST_POSTGRES_URL",
        f"postgresql+psycopg://postgres@127.0.0.1:5432/{TEST_DATABASE}",
    ),
    "mariadb": (
        "ERP_TEST_MARIADB_URL",
        f"mysql+pymysql://root@127.0.0.1:3306/{TEST_DATABASE}?charset=utf8mb4",
    ),
}


def _unreachable(backend: str, url: str) -> None:
    """Skip locally, but fail in CI, where every backend must run."""
    message = f"{backend} is not reachable at {url}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _server_engine(backend: str) -> Engine:
    """Create the test database on the server if missing and return an engine for it."""
    variable, default = SERVER_URLS[backend]
    url = make_url(os.environ.get(variable) or default)
    database = url.database or TEST_DATABASE
    admin_url = url.set(database="postgres" if backend == "postgresql" else "mysql")
    admin = make_engine(admin_url.render_as_string(hide_password=False))
    try:
        if not ping(admin):
            _unreachable(backend, admin_url.render_as_string(hide_password=True))
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            if backend == "postgresql":
                exists = connection.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": database}
                ).first()
                if exists is None:
                    connection.execute(text(f'CREATE DATABASE "{database}"'))
            else:
                connection.execute(
                    text(f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4")
                )
    finally:
        admin.dispose()
    return make_engine(url.render_as_string(hide_password=False))


def _engine_for(backend: str, tmp_path: Path) -> Engine:
    if backend == "sqlite":
        return make_engine(f"sqlite:///{tmp_path / 'erp.db'}")
    return _server_engine(backend)


@pytest.fixture(
    scope="session",
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.integration),
        pytest.param("mariadb", id="mariadb", marks=pytest.mark.integration),
    ],
)
def erp_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """An engine on a database seeded once per backend at a small scale, as of SEED_TODAY."""
    engine = _engine_for(request.param, tmp_path_factory.mktemp(f"erp-{request.param}"))
    seed(engine, scale=SEED_SCALE, today=SEED_TODAY, progress=False)
    yield engine
    engine.dispose()


@pytest.fixture
def session(erp_engine: Engine) -> Iterator[Session]:
    """A session on the seeded database; closing it rolls back anything a test changed."""
    with Session(erp_engine) as session:
        yield session
