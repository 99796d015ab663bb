"""ERP query latency per concept, for every shipped mapping on every database.

``python -m benchmarks.erp_mapping`` (``make bench-erp``) loads the demo ERP (seeded at
``--scale``), Northwind and classicmodels on SQLite, PostgreSQL and MariaDB (erp/samples.py),
then times the service functions the assistant calls, each in its own session and transaction
as a request does: an order's status, an order's ownership checked with an identity factor,
customer verification, product search by name, a product's stock, and where the mapping has
them an invoice's status, a customer's unpaid invoices and payments. Records are picked from
the data through the mapping (the middle order, product and invoice).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, make_url, select
from sqlalchemy.orm import Session

from demo.seed import seed
from erp import customers, inventory, invoices, orders, payments, product_names
from erp.db import make_engine, ping
from erp.samples import copy_database, create_database, default_source, load_classicmodels
from erp.schema import DEFAULT_MAPPING, MAPPING_ENV, MappedSchema, forget_schemas, schema_for

MAPPINGS = ("demo", "northwind", "classicmodels")
BACKENDS = ("sqlite", "postgresql", "mariadb")
BACKEND_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mariadb": "MariaDB"}
SERVER_URLS = {
    "postgresql": ("ERP_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    "mariadb": ("ERP_BENCH_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/mysql?charset=utf8mb4"),
}  # fmt: skip
# Server databases: the samples under their own names, the seeded demo apart from erp_test.
DATABASES = {"demo": "erp_bench", "northwind": "northwind", "classicmodels": "classicmodels"}
TODAY = date(2026, 11, 1)
REPS = 200
SCALE = 1.0
JSON_PATH = Path("var/bench/erp_mapping.json")
MAX_PROBE_TRIES = 50


@dataclass(frozen=True)
class Probe:
    """The records a run asks about, picked from the data through the mapping."""

    order: str
    customer: Any
    identity: dict[str, str]
    product_name: str
    sku: str
    invoice: str | None
    invoice_customer: Any
    payment_filter: tuple[str, Any] | None  # (payment field, value)


@dataclass(frozen=True)
class Timing:
    """One concept's latency on one mapping and database, in milliseconds."""

    mapping: str
    backend: str
    concept: str
    reps: int
    p50_ms: float
    p95_ms: float
    mean_ms: float


@dataclass
class Run:
    """Everything a bench run measured, and what it could not."""

    reps: int
    scale: float
    timings: list[Timing] = field(default_factory=list)
    rows: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


@contextmanager
def mapping_in_use(mapping: str) -> Iterator[Path]:
    """Point ``ERP_MAPPING`` at a shipped mapping for the block, then restore it."""
    path = DEFAULT_MAPPING.parent / f"{mapping}.yml"
    before = os.environ.get(MAPPING_ENV)
    os.environ[MAPPING_ENV] = str(path)
    forget_schemas()
    try:
        yield path
    finally:
        if before is None:
            os.environ.pop(MAPPING_ENV, None)
        else:
            os.environ[MAPPING_ENV] = before
        forget_schemas()
        product_names.clear_name_index()


def pick_probe(session: Session) -> Probe:
    """The middle order whose customer has every identity factor, the middle product, the
    middle invoice, and a filter for their payments.

    Raises:
        LookupError: no order has a customer with every identity factor.
    """
    schema = schema_for(session)
    field_ = schema.number_field("order")
    number = schema.c("order", field_)
    count = session.scalar(select(func.count()).select_from(schema.table("order"))) or 0
    rows = session.execute(
        schema.select("order", field_, "customer")
        .order_by(number)
        .offset(count // 2)
        .limit(MAX_PROBE_TRIES)
    ).all()
    for row in rows:
        identity = _identity(schema, row.customer, session)
        if identity is not None:
            order, customer = str(row._mapping[field_]), row.customer
            break
    else:
        raise LookupError("no order of a customer with every identity factor")
    sku_field = "sku" if schema.has("product", "sku") else "key"
    product = _middle(session, schema, "product", sku_field, "name")
    invoice, invoice_customer, invoice_key = None, None, None
    if schema.has("invoice"):
        found = _middle(
            session, schema, "invoice", schema.number_field("invoice"), "customer", "key"
        )
        invoice, invoice_customer = str(found[0]), found.customer
        invoice_key = found.key
    payment_filter: tuple[str, Any] | None = None
    if schema.has("payment", "customer"):
        payment_filter = ("customer", customer)
    elif schema.has("payment", "invoice") and invoice_key is not None:
        payment_filter = ("invoice", invoice_key)
    return Probe(
        order=order,
        customer=customer,
        identity=identity,
        product_name=str(product.name),
        sku=str(product[0]),
        invoice=invoice,
        invoice_customer=invoice_customer,
        payment_filter=payment_filter,
    )


def _identity(schema: MappedSchema, customer: Any, session: Session) -> dict[str, str] | None:
    factors = schema.spec.identity
    row = session.execute(
        schema.select("customer", *factors).where(schema.c("customer", "key") == customer)
    ).first()
    if row is None or any(row._mapping[f] in (None, "") for f in factors):
        return None
    return {f: str(row._mapping[f]) for f in factors}


def _middle(session: Session, schema: MappedSchema, concept: str, first: str, *more: str) -> Any:
    count = session.scalar(select(func.count()).select_from(schema.table(concept))) or 0
    return session.execute(
        schema.select(concept, first, *more)
        .order_by(schema.c(concept, first))
        .offset(count // 2)
        .limit(1)
    ).one()


def concepts(probe: Probe, schema: MappedSchema) -> dict[str, Callable[[Session], object]]:
    """The calls to time, by concept: only those the mapping has."""
    first_factor = next(iter(probe.identity.values()))
    calls: dict[str, Callable[[Session], object]] = {
        "order status by number": lambda s: orders.get_order_status(
            probe.order, customer_id=probe.customer, session=s
        ),
        "order ownership, with an identity factor": lambda s: (
            orders.order_customer_if_identity_matches(probe.order, first_factor, session=s)
        ),
        "customer verification (both factors)": lambda s: customers.find_customer(
            probe.identity, session=s
        ),
        "product search by name": lambda s: product_names.lookup_products(
            probe.product_name, session=s
        ),
        "product search, name index rebuilt": lambda s: _cold_lookup(probe.product_name, s),
        "stock of a product": lambda s: inventory.get_stock(probe.sku, today=TODAY, session=s),
    }
    if probe.invoice is not None:
        invoice = probe.invoice
        calls["invoice status"] = lambda s: invoices.get_invoice_status(
            invoice, customer_id=probe.invoice_customer, today=TODAY, session=s
        )
        calls["unpaid invoices of a customer"] = lambda s: invoices.list_unpaid_invoices(
            customer_id=probe.invoice_customer, today=TODAY, session=s
        )
    if probe.payment_filter is not None:
        by, value = probe.payment_filter
        if by == "customer":
            calls["payments of a customer"] = lambda s: payments.account_payments(
                customer_id=value, session=s
            )
        else:
            calls["payments of an invoice"] = lambda s: _payments(schema_for(s), by, value, s)
    return calls


def _cold_lookup(name: str, session: Session) -> object:
    product_names.clear_name_index()
    return product_names.lookup_products(name, session=session)


def _payments(schema: MappedSchema, by: str, value: Any, session: Session) -> list[Any]:
    """An invoice's payments, latest first: the query through the mapping (the invoice
    status answer reads its amount paid from the invoice itself)."""
    query = schema.select("payment", "amount", "date", "reference").where(
        schema.c("payment", by) == value
    )
    return list(session.execute(query.order_by(schema.c("payment", "date").desc())).all())


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile of ``values`` (``share`` in 0-1)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def bench_mapping(mapping: str, engine: Engine, *, backend: str, reps: int) -> list[Timing]:
    """Time every concept the mapping has on ``engine``, ``reps`` times each.

    Each call opens its own session and transaction, as a request does; one call per
    concept first warms the connection pool, the resolved mapping and the name index.

    Raises:
        ValueError: ``reps`` is not positive.
    """
    if reps < 1:
        raise ValueError(f"reps must be greater than 0, got {reps}")
    timings = []
    with mapping_in_use(mapping):
        with Session(engine) as session:
            probe = pick_probe(session)
            calls = concepts(probe, schema_for(session))
        for concept, call in calls.items():
            with Session(engine) as session:
                call(session)
            spent = []
            for _ in range(reps):
                started = time.perf_counter()
                with Session(engine) as session, session.begin():
                    call(session)
                spent.append((time.perf_counter() - started) * 1000)
            timings.append(
                Timing(
                    mapping=mapping,
                    backend=backend,
                    concept=concept,
                    reps=reps,
                    p50_ms=round(statistics.median(spent), 3),
                    p95_ms=round(percentile(spent, 0.95), 3),
                    mean_ms=round(statistics.fmean(spent), 3),
                )
            )
    return timings


def server_url(backend: str, database: str) -> str:
    """The URL of ``database`` on the bench's server for ``backend`` (env overrides)."""
    variable, default = SERVER_URLS[backend]
    url = make_url(os.environ.get(variable) or default).set(database=database)
    return url.render_as_string(hide_password=False)


def prepare(mapping: str, backend: str, *, scale: float, folder: Path) -> Engine:
    """An engine on ``mapping``'s data loaded on ``backend`` (the demo seeded at ``scale``).

    Raises:
        ValueError: the sample's files are missing.
        sqlalchemy.exc.OperationalError: a server could not be reached.
    """
    if mapping == "demo":
        url = (
            f"sqlite:///{folder / 'demo.db'}"
            if backend == "sqlite"
            else server_url(backend, DATABASES["demo"])
        )
        create_database(url)
        engine = make_engine(url)
        seed(engine, scale=scale, today=TODAY, progress=False)
        return engine
    if mapping == "northwind":
        source = _existing(default_source("northwind"))
        if backend == "sqlite":
            return make_engine(f"sqlite:///{source}")
        return _copied(make_engine(f"sqlite:///{source}"), server_url(backend, "northwind"))
    dump = _existing(default_source("classicmodels"))
    on_mariadb = server_url("mariadb", DATABASES["classicmodels"])
    if backend == "mariadb":
        load_classicmodels(on_mariadb, dump)
        return make_engine(on_mariadb)
    target = (
        f"sqlite:///{folder / 'classicmodels.db'}"
        if backend == "sqlite"
        else server_url(backend, DATABASES["classicmodels"])
    )
    return _copied(make_engine(on_mariadb), target)


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise ValueError(f"{path} is missing (set BENCHMARKS_DIR)")
    return path


def _copied(source: Engine, url: str) -> Engine:
    create_database(url)
    target = make_engine(url)
    try:
        copy_database(source, target)
    finally:
        source.dispose()
    return target


def reachable(backend: str) -> bool:
    """Whether the bench's server for ``backend`` answers (SQLite always does)."""
    if backend == "sqlite":
        return True
    engine = make_engine(server_url(backend, make_url(SERVER_URLS[backend][1]).database or ""))
    try:
        return ping(engine)
    finally:
        engine.dispose()


def run(mappings: Sequence[str], backends: Sequence[str], *, reps: int, scale: float) -> Run:
    """Load and time every mapping on every reachable backend."""
    result = Run(reps=reps, scale=scale)
    up = {backend: reachable(backend) for backend in backends}
    if not up.get("mariadb", False) and "classicmodels" in mappings:
        result.skipped.append("classicmodels: needs MariaDB to load its dump")
    with tempfile.TemporaryDirectory() as folder:
        for mapping in mappings:
            for backend in backends:
                if not up[backend]:
                    result.skipped.append(f"{mapping} on {backend}: server not reachable")
                    continue
                if mapping == "classicmodels" and not up.get("mariadb", False):
                    continue
                print(f"{mapping} on {BACKEND_NAMES[backend]}...", file=sys.stderr, flush=True)
                loaded = prepare(mapping, backend, scale=scale, folder=Path(folder))
                # Timed through the assistant's own kind of engine: read-only, with timeouts.
                engine = make_engine(
                    loaded.url.render_as_string(hide_password=False), read_only=True
                )
                loaded.dispose()
                try:
                    result.rows[f"{mapping}/{backend}"] = _sizes(mapping, engine)
                    result.timings += bench_mapping(mapping, engine, backend=backend, reps=reps)
                finally:
                    engine.dispose()
    return result


def _sizes(mapping: str, engine: Engine) -> dict[str, int]:
    with mapping_in_use(mapping), Session(engine) as session:
        schema = schema_for(session)
        return {
            concept: session.scalar(select(func.count()).select_from(schema.table(concept))) or 0
            for concept in ("customer", "order", "product")
        }


def markdown(result: Run) -> str:
    """The timings as a markdown table: a row per mapping and concept, p50 / p95 per database."""
    backends = [b for b in BACKENDS if any(t.backend == b for t in result.timings)]
    header = "| mapping | concept | " + " | ".join(
        f"{BACKEND_NAMES[b]} p50 / p95" for b in backends
    )
    lines = [header + " |", "|---|---|" + "---|" * len(backends)]
    by_key = {(t.mapping, t.concept, t.backend): t for t in result.timings}
    seen: list[tuple[str, str]] = []
    for timing in result.timings:
        if (timing.mapping, timing.concept) not in seen:
            seen.append((timing.mapping, timing.concept))
    for mapping, concept in seen:
        cells = []
        for backend in backends:
            found = by_key.get((mapping, concept, backend))
            cells.append(f"{found.p50_ms:.2f} / {found.p95_ms:.2f} ms" if found else "-")
        lines.append(f"| {mapping} | {concept} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench, print the table and write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.erp_mapping", description=__doc__)
    parser.add_argument("--reps", type=int, default=REPS, help=f"calls per concept ({REPS})")
    parser.add_argument("--scale", type=float, default=SCALE, help=f"demo seed scale ({SCALE})")
    parser.add_argument("--mappings", default=",".join(MAPPINGS), help="comma-separated")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated")
    parser.add_argument("--json", type=Path, default=JSON_PATH, help=f"({JSON_PATH})")
    args = parser.parse_args(argv)
    mappings, backends = args.mappings.split(","), args.backends.split(",")
    for name, chosen, allowed in (("mapping", mappings, MAPPINGS), ("backend", backends, BACKENDS)):
        unknown = [c for c in chosen if c not in allowed]
        if unknown:
            parser.error(f"{name} must be among {', '.join(allowed)}, got {', '.join(unknown)}")
    if args.reps < 1:
        parser.error(f"--reps must be greater than 0, got {args.reps}")
    started = time.perf_counter()
    result = run(mappings, backends, reps=args.reps, scale=args.scale)
    print(markdown(result))
    for mapping_backend, sizes in result.rows.items():
        print(f"  {mapping_backend}: " + ", ".join(f"{n:,} {c}s" for c, n in sizes.items()))
    for reason in result.skipped:
        print(f"  skipped: {reason}")
    elapsed = time.perf_counter() - started
    print(f"{args.reps} calls per concept, demo at scale {args.scale}, {os.cpu_count()} CPUs, "
          f"{elapsed:.0f} s")  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "date": date.today().isoformat(),
        "cpus": os.cpu_count(),
        **asdict(result),
    }
    args.json.write_text(json.dumps(payload, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
