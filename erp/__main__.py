"""Command line for the ERP data layer: ``python -m erp seed``, ``sample``, ``check-mapping``
and ``load-sample``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date
from pathlib import Path

from sqlalchemy import func, make_url, select
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session

from erp.db import make_engine, session_scope
from erp.errors import ErpError, ErpUnavailable
from erp.inventory import get_stock
from erp.mapping.report import render
from erp.mapping.resolve import check_mapping
from erp.mapping.source import MappingError
from erp.mapping.spec import load_mapping
from erp.models import (
    INVOICE_STATUSES,
    ORDER_STATUSES,
    Customer,
    Invoice,
    Product,
    SalesOrder,
    Shipment,
    StockLevel,
)
from erp.samples import SAMPLES, grant_reader, load_sample
from erp.schema import DEFAULT_MAPPING
from erp.seed import seed


def _seed(args: argparse.Namespace) -> int:
    engine = make_engine(args.url)
    started = time.perf_counter()
    summary = seed(engine, scale=args.scale, rng_seed=args.seed, progress=not args.quiet)
    elapsed = time.perf_counter() - started
    print(f"Seeded {engine.url.render_as_string(hide_password=True)} in {elapsed:.1f} s:")
    for table, count in asdict(summary).items():
        print(f"  {table:<16} {count:>7,}")
    return 0


def _print_orders(session: Session) -> None:
    print("Orders (order number, email, postcode):")
    for status in ORDER_STATUSES:
        row = session.execute(
            select(SalesOrder, Customer)
            .join(Customer, Customer.id == SalesOrder.customer_id)
            .where(SalesOrder.status == status)
            .order_by(SalesOrder.order_date.desc(), SalesOrder.order_number)
            .limit(1)
        ).first()
        if row is None:
            continue
        order, customer = row
        line = f"  {status:<10} {order.order_number}  {customer.email}  {customer.postcode}"
        shipment = session.scalars(
            select(Shipment).where(Shipment.order_number == order.order_number)
        ).first()
        if shipment is not None:
            line += f"  ({shipment.carrier} {shipment.tracking_number})"
        print(line)


def _print_invoices(session: Session) -> None:
    print("Invoices (invoice number, email, postcode, total, paid):")
    for status in INVOICE_STATUSES:
        row = session.execute(
            select(Invoice, Customer)
            .join(Customer, Customer.id == Invoice.customer_id)
            .where(Invoice.status == status)
            .order_by(Invoice.issue_date.desc(), Invoice.invoice_number)
            .limit(1)
        ).first()
        if row is None:
            continue
        invoice, customer = row
        print(
            f"  {status:<14} {invoice.invoice_number}  {customer.email}  {customer.postcode}"
            f"  {invoice.currency} {invoice.total} (paid {invoice.amount_paid}, "
            f"due {invoice.due_date})"
        )


def _print_products(session: Session, today: date) -> None:
    print("Products (SKU, name, available, next delivery):")
    available = func.sum(StockLevel.on_hand - StockLevel.reserved)
    named = list(
        session.scalars(
            select(Product.sku).where(Product.name.in_(("Blue Widget", "X200 Controller")))
        )
    )
    in_stock = list(
        session.scalars(
            select(StockLevel.sku)
            .group_by(StockLevel.sku)
            .having(available > 0)
            .order_by(available.desc(), StockLevel.sku)
            .limit(2)
        )
    )
    out_of_stock = list(
        session.scalars(
            select(StockLevel.sku)
            .group_by(StockLevel.sku)
            .having(func.sum(StockLevel.on_hand) == 0)
            .order_by(StockLevel.sku)
            .limit(3)
        )
    )
    for sku in dict.fromkeys(named + in_stock + out_of_stock):
        report = get_stock(sku, today=today, session=session)
        incoming = report.next_incoming
        arriving = (
            f"{incoming.quantity} due {incoming.eta} at {incoming.warehouse_code}"
            if incoming
            else "-"
        )
        print(f"  {report.sku}  {report.name:<34} {report.total_available:>6}  {arriving}")


def _sample(args: argparse.Namespace) -> int:
    engine = make_engine(args.url)
    with session_scope(engine) as session:
        _print_orders(session)
        _print_invoices(session)
        _print_products(session, date.today())
    return 0


def _check_mapping(args: argparse.Namespace) -> int:
    try:
        spec = load_mapping(Path(args.file))
    except MappingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    engine = make_engine(args.url)
    url = engine.url.render_as_string(hide_password=True)
    database = engine.url.database
    if engine.url.get_backend_name() == "sqlite" and database and not Path(database).is_file():
        # SQLite would create an empty database there: say what is wrong instead.
        print(f"error: no SQLite database at {database}", file=sys.stderr)
        return 1
    try:
        report = check_mapping(spec, engine)
    except SQLAlchemyError as error:
        raise ErpUnavailable(f"{url}: {str(error).splitlines()[0]}", url=url) from None
    finally:
        engine.dispose()
    print(render(report, url))
    for problem in report.problems:
        print(f"error: {problem}", file=sys.stderr)
    return 0 if report.resolved else 1


def _load_sample(args: argparse.Namespace) -> int:
    try:
        shown = make_url(args.url).render_as_string(hide_password=True)
    except ArgumentError:
        raise ValueError("--url is not a database URL (e.g. sqlite:///var/northwind.db)") from None
    try:
        loaded = load_sample(args.sample, args.url, args.source)
        shown = loaded.url.render_as_string(hide_password=True)
        engine = make_engine(loaded.url.render_as_string(hide_password=False))
        try:
            reader = grant_reader(engine, args.reader) if args.reader else None
            mapping = DEFAULT_MAPPING.parent / f"{args.sample}.yml"
            report = check_mapping(load_mapping(mapping), engine)
        finally:
            engine.dispose()
    except SQLAlchemyError as error:
        raise ErpUnavailable(f"{shown}: {str(error).splitlines()[0]}", url=shown) from None
    tables, rows = len(loaded.rows), sum(loaded.rows.values())
    print(f"Loaded {args.sample} into {shown}: {tables} tables, {rows:,} rows")
    for problem in report.problems:
        print(f"error: {problem}", file=sys.stderr)
    if not report.resolved:
        return 1
    declared = len(report.concepts)
    print(f"erp/mappings/{mapping.name} resolves there: all {declared} declared concepts.")
    if reader is not None:
        # The new user's password is printed once: nobody else knows it.
        shown = reader.render_as_string(hide_password=False)
        print(f"Read-only user {args.reader} created.")
    print("Try the assistant on it:")
    print(f"  ERP_MAPPING=erp/mappings/{mapping.name} ERP_DATABASE_URL='{shown}' make run")
    return 0


def _grant_writer(args: argparse.Namespace) -> int:
    """Create the login the assistant's changes run as and print its URL."""
    from erp.db import make_engine
    from erp.roles import grant_writer

    engine = make_engine(args.url)
    try:
        url = grant_writer(engine, args.user)
    finally:
        engine.dispose()
    print(f"User {args.user} may read, and change only what the mapping's writes change.")
    print(f"ERP_WRITE_DATABASE_URL={url.render_as_string(hide_password=False)}")
    return 0


def _audit(args: argparse.Namespace) -> int:
    """Print the audit trail's events matching the filters, oldest first, one per line."""
    from erp.audit import audit_trail

    events = audit_trail().query(
        conversation=args.conversation, customer=args.customer, since=args.since, limit=args.limit
    )
    for event in events:
        print(
            f"{event.at}  {event.channel:<8} {event.conversation:<28} {event.actor:<24} "
            f"customer={event.customer or '-':<8} {event.operation:<34} "
            f"{event.record or '-':<12} {event.outcome:<12} {event.ms:.1f} ms"
        )
    print(f"{len(events)} event(s)", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``erp`` command line and return its exit code."""
    parser = argparse.ArgumentParser(prog="python -m erp", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    seed_parser = commands.add_parser("seed", help="drop, recreate and fill the demo database")
    seed_parser.add_argument("--scale", type=float, default=1.0, help="size multiplier (1.0)")
    seed_parser.add_argument("--seed", type=int, default=42, help="random seed (42)")
    seed_parser.add_argument("--url", help="database URL (default: ERP_DATABASE_URL or SQLite)")
    seed_parser.add_argument("--quiet", action="store_true", help="hide progress bars")
    seed_parser.set_defaults(handler=_seed)
    sample_parser = commands.add_parser("sample", help="print real identities for demos")
    sample_parser.add_argument("--url", help="database URL (default: ERP_DATABASE_URL or SQLite)")
    sample_parser.set_defaults(handler=_sample)
    check_parser = commands.add_parser(
        "check-mapping",
        help="check an ERP mapping file against a database (exit 0 when every concept resolves)",
    )
    check_parser.add_argument("file", help="the mapping (YAML), e.g. erp/mappings/northwind.yml")
    check_parser.add_argument("--url", help="database URL (default: ERP_DATABASE_URL or SQLite)")
    check_parser.set_defaults(handler=_check_mapping)
    load_parser = commands.add_parser(
        "load-sample",
        help="load a sample ERP (Northwind, classicmodels) into a database and check its mapping",
    )
    load_parser.add_argument("sample", choices=SAMPLES)
    load_parser.add_argument(
        "--url", required=True, help="the target database (created if missing; its tables of "
        "the sample's names are replaced), e.g. postgresql+psycopg://user@host/northwind",
    )  # fmt: skip
    load_parser.add_argument(
        "--source",
        help="the sample's SQLite file or MySQL dump, or the URL of a database holding it "
        "(default: ../shared/benchmarks/SAMPLE/, or $BENCHMARKS_DIR)",
    )
    load_parser.add_argument(
        "--reader", metavar="USER", help="also create USER, who may only read it (not SQLite)"
    )
    load_parser.set_defaults(handler=_load_sample)
    writer_parser = commands.add_parser(
        "grant-writer",
        help="create the database user the assistant's changes run as (PostgreSQL, MariaDB)",
    )
    writer_parser.add_argument("user", help="lower-case letters, digits and _")
    writer_parser.add_argument("--url", required=True, help="the ERP database, as an admin")
    writer_parser.set_defaults(handler=_grant_writer)
    audit_parser = commands.add_parser(
        "audit",
        help="the ERP reads and writes made for conversations (AUDIT_DB, var/audit.db; or the "
        "database of ACTIONS_STATE_DATABASE_URL)",
    )
    audit_parser.add_argument("--conversation", help="one conversation (its sender id)")
    audit_parser.add_argument("--customer", help="one customer (their key in the ERP)")
    audit_parser.add_argument("--since", help="from this UTC time on, e.g. 2026-12-06T10:00")
    audit_parser.add_argument("--limit", type=int, default=100, help="the latest N (100)")
    audit_parser.set_defaults(handler=_audit)
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except (ErpError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if isinstance(exc, ErpUnavailable):
            print(f"  {exc.detail}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
