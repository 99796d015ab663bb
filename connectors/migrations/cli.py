"""``python -m connectors db current|upgrade``: where the gateway database stands, and bring
it to the newest schema (the gateway also does this when it starts).

The database is the one the gateway uses: GATEWAY_DATABASE_URL (with
GATEWAY_DATABASE_PASSWORD), or the SQLite file GATEWAY_DB.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence

from envvars import SettingsError


def main(argv: Sequence[str], env: Mapping[str, str] | None = None) -> int:
    from connectors.database import Database, PostgresDatabase, SqliteDatabase, open_database
    from connectors.migrations import current, head
    from connectors.settings import GatewaySettings

    parser = argparse.ArgumentParser(prog="python -m connectors db", description=__doc__)
    parser.add_argument("command", choices=("current", "upgrade"))
    args = parser.parse_args(argv)
    try:
        settings = GatewaySettings.from_env(env)
    except SettingsError as error:
        print(f"error: {error}")
        return 2
    location = settings.database_url or settings.gateway_db
    where = "PostgreSQL (GATEWAY_DATABASE_URL)" if settings.database_url else location
    if args.command == "current":
        # Read without migrating.
        database: Database = (
            PostgresDatabase(location, password=settings.database_password)
            if settings.database_url
            else SqliteDatabase(location)
        )
        try:
            print(f"{where}: revision {current(database) or 'none'} (newest {head()})")
        finally:
            database.close()
        return 0
    open_database(location, password=settings.database_password).close()
    print(f"{where}: at revision {head()}")
    return 0
