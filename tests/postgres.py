"""A PostgreSQL test database made on first use, shared by the test packages that need one."""

from __future__ import annotations

import os

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import make_url


def ensure_database(url: str, *, what: str) -> None:
    """Create ``url``'s database if missing; fail in CI, else skip, when PostgreSQL is not
    reachable (``what`` names the tests in the message)."""
    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres")
    try:
        with psycopg.connect(
            admin.render_as_string(hide_password=False), autocommit=True, connect_timeout=5
        ) as db:
            if not db.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              (parsed.database,)).fetchone():  # fmt: skip
                db.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(parsed.database)))
    except psycopg.OperationalError as error:
        message = f"PostgreSQL is not reachable for {what}: {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
