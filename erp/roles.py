"""The database login the assistant's changes run as: it may read, and change only what the
changes its mapping declares change (``ERP_WRITE_DATABASE_URL``; docs/transactions.md).

``UPDATE`` of the order table's status column (``cancel_order``) and delivery address columns
(``change_address``), and ``INSERT`` into ``assistant_writes`` (the idempotency keys), on top
of ``SELECT`` everywhere.
"""

from __future__ import annotations

from sqlalchemy import URL, Engine, text
from sqlalchemy.orm import Session

from erp.models import AssistantWrite
from erp.samples import grant_reader
from erp.schema import schema_for

_MYSQL = ("mysql", "mariadb")


def grant_writer(engine: Engine, user: str, *, client_host: str | None = None) -> URL:
    """Create (or reset) ``user`` with the rights the mapping's declared writes need; return
    its URL (with a new password).

    Args:
        engine: An engine with the right to create users, on the ERP database.
        user: Lower-case letters, digits and ``_``.
        client_host: MariaDB/MySQL only: where the user connects from.

    Raises:
        ValueError: an unsafe user name, SQLite, or a mapping that declares no writes.
    """
    with Session(engine) as session:
        schema = schema_for(session)
    if not schema.spec.writes:
        raise ValueError(f"{schema.spec.name} declares no writes: the assistant needs no writer")
    AssistantWrite.__table__.create(engine, checkfirst=True)  # type: ignore[attr-defined]
    url = grant_reader(engine, user, client_host=client_host)
    quote = engine.dialect.identifier_preparer.quote
    orders = quote(schema.table("order").name)
    changed: list[str] = []
    if "cancel_order" in schema.spec.writes:
        changed.append(str(schema.status_column("order").key))
    if "change_address" in schema.spec.writes:
        fields = ("delivery_street", "delivery_postcode", "delivery_country")
        changed += [str(schema.c("order", f).key) for f in fields if schema.has("order", f)]
    columns = ", ".join(quote(name) for name in changed)
    keys = quote(AssistantWrite.__tablename__)
    backend = engine.url.get_backend_name()
    if backend in _MYSQL:
        database = quote(str(engine.url.database))
        host = client_host or (
            engine.url.host if engine.url.host in ("127.0.0.1", "localhost") else "%"
        )
        account = {"user": user, "host": host}
        with engine.begin() as connection:
            connection.execute(
                text(f"GRANT UPDATE ({columns}) ON {database}.{orders} TO :user@:host"), account
            )
            connection.execute(text(f"GRANT INSERT ON {database}.{keys} TO :user@:host"), account)
    else:
        role = quote(user)
        with engine.begin() as connection:
            connection.execute(text(f"GRANT UPDATE ({columns}) ON {orders} TO {role}"))
            connection.execute(text(f"GRANT INSERT ON {keys} TO {role}"))
    return url
