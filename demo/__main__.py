"""Command line for the demo company: ``python -m demo seed`` fills the demo ERP, ``python -m
demo sample`` prints real identities from it to try the bot with."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from demo.seed import seed
from erp.cli import run_handler
from erp.db import make_engine, session_scope
from erp.inventory import get_stock
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``demo`` command line and return its exit code."""
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
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
    return run_handler(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
