"""The action server's state database on each backend (``state_backend``: a SQLite file, and
PostgreSQL as the replicas share it), for the lockout and audit tests of tests/actions and
tests/erp, whose conftests import these fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import URL, Engine

from erp.state import PASSWORD_ENV, URL_ENV, make_state_engine, metadata, state_url
from tests.postgres import ensure_database

ACTIONS_STATE_TEST_POSTGRES_URL = os.environ.get(
    "ACTIONS_STATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/actions_state_test"
)


@dataclass
class StateBackend:
    """Where a test's lockout store and audit trail live: ``folder`` holds the SQLite files,
    ``url`` is the PostgreSQL database (None on SQLite)."""

    name: str
    folder: Path
    url: URL | None = None
    engines: list[Engine] = field(default_factory=list)

    def engine(self, file: str = "actions-state.db") -> Engine:
        """A new engine on the backend, as one more process (replica) would open it: the
        SQLite ``file`` in the test's folder, or the PostgreSQL database."""
        made = make_state_engine(self.folder / file if self.url is None else self.url)
        self.engines.append(made)
        return made

    def use(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point this process's stores (``lockout_store()``, ``audit_trail()``) at the backend
        through the environment, as an action server's would be."""
        from actions.settings import STATE_DB
        from erp.settings import AUDIT_DB

        monkeypatch.setenv(STATE_DB.name, str(self.folder / "actions-state.db"))
        monkeypatch.setenv(AUDIT_DB.name, str(self.folder / "audit.db"))
        if self.url is None:
            monkeypatch.delenv(URL_ENV, raising=False)
        else:
            monkeypatch.setenv(URL_ENV, self.url.render_as_string(hide_password=False))
        monkeypatch.delenv(PASSWORD_ENV, raising=False)
        close_process_stores()


def close_process_stores() -> None:
    """Close and forget the process's lockout store and audit trail, and the action server's
    settings (the next call reads the environment and opens them again)."""
    from actions.lockout import lockout_store
    from actions.settings import use_settings
    from erp.audit import audit_trail

    use_settings(None)

    for cached in (lockout_store, audit_trail):
        if cached.cache_info().currsize:
            cached().close()
        cached.cache_clear()


@pytest.fixture(scope="session")
def actions_state_postgres() -> URL:
    """The PostgreSQL test database of the action server's state, created once per session."""
    ensure_database(ACTIONS_STATE_TEST_POSTGRES_URL, what="the action server's state tests")
    parsed = state_url({URL_ENV: ACTIONS_STATE_TEST_POSTGRES_URL})
    assert parsed is not None
    return parsed


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.integration),
    ]
)
def state_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateBackend]:
    """A fresh state database: SQLite files in the test's folder, or the PostgreSQL test
    database without its tables (the stores create them, as at a first start). Engines made
    with ``engine()`` and the process's stores are closed after the test."""
    url: URL | None = None
    if request.param == "postgresql":
        url = request.getfixturevalue("actions_state_postgres")
        admin = make_state_engine(url)
        try:
            metadata.drop_all(admin)
        finally:
            admin.dispose()
    backend = StateBackend(request.param, tmp_path, url)
    yield backend
    close_process_stores()
    for engine in backend.engines:
        engine.dispose()
