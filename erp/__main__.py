"""Command line for the ERP data layer: ``python -m erp check-mapping``, ``load-sample``,
``grant-writer`` and ``audit`` (the demo ERP is ``python -m demo seed``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from erp.cli import run_handler
from erp.db import make_engine
from erp.errors import ErpUnavailable
from erp.mapping.report import render
from erp.mapping.resolve import check_mapping
from erp.mapping.source import MappingError
from erp.mapping.spec import load_mapping
from erp.samples import SAMPLES, grant_reader, load_sample
from erp.schema import DEFAULT_MAPPING


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
    return run_handler(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
