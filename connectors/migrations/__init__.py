"""The gateway database's schema, as Alembic migrations (versions/), applied when the gateway
opens its database (``connectors.database.open_database``), by one process at a time.

A change to the schema is a new file in versions/ whose ``down_revision`` is the newest one;
``python -m connectors db current`` says where a database stands. Migrations are written once
and never edited after they have landed: a database made by an older release is brought up to
date by running the ones it has not seen.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

if TYPE_CHECKING:
    from connectors.database import Database

HERE = Path(__file__).resolve().parent


def config() -> Config:
    settings = Config()
    settings.set_main_option("script_location", str(HERE))
    return settings


def head() -> str:
    """The newest revision."""
    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None
    return revision


def current(database: Database) -> str | None:
    """The revision ``database`` is at (None: never migrated)."""
    with database.engine().connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(database: Database, *, lock: int) -> None:
    """Bring ``database`` to the newest revision; a no-op when it is there already.

    On PostgreSQL a session advisory lock makes replicas starting together migrate one after
    the other (the second finds nothing left to do).
    """
    if current(database) == head():
        return
    with database.engine().begin() as connection:
        if database.dialect == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock})
        settings = config()
        settings.attributes["connection"] = connection
        command.upgrade(settings, "head")
