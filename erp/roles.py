"""The database login the assistant's changes run as: it may read, and change only what the
changes its mapping declares change (``ERP_WRITE_DATABASE_URL``; docs/transactions.md).

``UPDATE`` of the order table's status column (``cancel_order``) and delivery address columns
(``change_address``), ``INSERT`` into ``assistant_writes`` (the idempotency keys) and, for
``request_return``, into ``assistant_returns`` and ``assistant_return_lines``; on top of
``SELECT`` everywhere.
"""

from __future__ import annotations

from sqlalchemy import URL, Engine, text
from sqlalchemy.orm import Session

from erp.models import AssistantReturn, AssistantReturnLine, AssistantWrite, Base
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
    inserted: list[type[Base]] = [AssistantWrite]
    if "request_return" in schema.spec.writes:
        inserted += [AssistantReturn, AssistantReturnLine]
    for table in inserted:  # before the reader's grants, so that it may read them too
        table.__table__.create(engine, checkfirst=True)  # type: ignore[attr-defined]
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
    backend = engine.url.get_backend_name()
    if backend in _MYSQL:
        database = quote(str(engine.url.database))
        host = client_host or (
            engine.url.host if engine.url.host in ("127.0.0.1", "localhost") else "%"
        )
        account = {"user": user, "host": host}
        with engine.begin() as connection:
            if columns:
                connection.execute(
                    text(f"GRANT UPDATE ({columns}) ON {database}.{orders} TO :user@:host"),
                    account,
                )
            for table in inserted:
                name = quote(table.__tablename__)
                connection.execute(
                    text(f"GRANT INSERT ON {database}.{name} TO :user@:host"), account
                )
    else:
        role = quote(user)
        with engine.begin() as connection:
            if columns:
                connection.execute(text(f"GRANT UPDATE ({columns}) ON {orders} TO {role}"))
            for table in inserted:
                connection.execute(text(f"GRANT INSERT ON {quote(table.__tablename__)} TO {role}"))
            if "request_return" in schema.spec.writes:  # the lines' ids come from a sequence
                sequence = quote(f"{AssistantReturnLine.__tablename__}_id_seq")
                connection.execute(text(f"GRANT USAGE ON SEQUENCE {sequence} TO {role}"))
    return url
