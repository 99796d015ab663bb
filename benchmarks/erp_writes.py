"""Confirmed writes under duplicate deliveries: how many deliveries, how many changes, how many
duplicates were prevented, and the latency of a confirmed write, per database.

For each backend: the demo ERP seeded at a small scale in a database of its own; every
pending or confirmed order (up to ``--orders``) is cancelled through
:func:`erp.writes.cancel_order` as a confirmation would be: half delivered once, a quarter
twice in a row (a double click), a quarter ``--burst`` times at once (a retried webhook
storm). Then the database is checked: every order cancelled exactly once, one
``assistant_writes`` row per confirmation.

    python -m benchmarks.erp_writes --json var/bench/writes.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from benchmarks.erp_mapping import BACKEND_NAMES, BACKENDS, percentile, reachable, server_url
from demo.seed import seed
from erp import writes
from erp.models import AssistantWrite, SalesOrder
from erp.samples import create_database
from erp.schema import forget_schemas

DATABASE = "erp_bench_writes"
SCALE = 1.0
ORDERS = 60
BURST = 10


@dataclass
class WriteRun:
    """One backend's figures."""

    backend: str
    confirmations: int = 0
    deliveries: int = 0
    changes: int = 0
    duplicates_prevented: int = 0
    rows: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 0.5)

    @property
    def p95_ms(self) -> float:
        return percentile(self.latencies_ms, 0.95)


def bench_backend(backend: str, *, orders: int, burst: int, folder: Path) -> WriteRun:
    """Seed, then cancel ``orders`` orders with duplicate deliveries; check the database."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'writes.db'}"
    else:
        url = server_url(backend, DATABASE)
    create_database(url)
    engine = writes.make_write_engine(url)
    forget_schemas()
    try:
        seed(engine, scale=SCALE, today=date(2026, 11, 1), progress=False)
        with Session(engine) as session:
            picked = session.execute(
                select(SalesOrder.order_number, SalesOrder.customer_id)
                .where(SalesOrder.status.in_(writes.CANCELLABLE))
                .order_by(SalesOrder.order_number)
                .limit(orders)
            ).all()
        run = WriteRun(backend)
        for index, (number, customer) in enumerate(picked):
            copies = 1 if index % 4 in (0, 1) else 2 if index % 4 == 2 else burst
            key = f"bench-{number}"

            def deliver(
                _: int, number: str = number, customer: int = customer, key: str = key
            ) -> tuple[float, writes.WriteOutcome]:  # noqa: E501
                started = time.perf_counter()
                outcome = writes.cancel_order(
                    number, customer_id=customer, key=key, actor="bench", engine=engine
                )
                return (time.perf_counter() - started) * 1000, outcome

            if copies == burst:
                with ThreadPoolExecutor(max_workers=burst) as pool:
                    results = list(pool.map(deliver, range(copies)))
            else:
                results = [deliver(i) for i in range(copies)]
            run.confirmations += 1
            run.deliveries += copies
            made = [ms for ms, outcome in results if outcome.done and not outcome.repeated]
            run.changes += len(made)
            run.latencies_ms += made
        run.duplicates_prevented = run.deliveries - run.changes
        with Session(engine) as session:
            run.rows = (
                session.scalar(
                    select(func.count())
                    .select_from(AssistantWrite)
                    .where(AssistantWrite.actor == "bench")
                )
                or 0
            )
            cancelled = session.scalar(
                select(func.count())
                .select_from(SalesOrder)
                .where(
                    SalesOrder.order_number.in_([n for n, _ in picked]),
                    SalesOrder.status == "cancelled",
                )
            )
        if run.changes != len(picked) or run.rows != len(picked) or cancelled != len(picked):
            raise AssertionError(f"{backend}: {run} but {cancelled} cancelled")
        return run
    finally:
        engine.dispose()
        forget_schemas()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.erp_writes", description=__doc__)
    parser.add_argument("--orders", type=int, default=ORDERS, help=f"orders cancelled ({ORDERS})")
    parser.add_argument("--burst", type=int, default=BURST, help=f"parallel copies ({BURST})")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        for backend in BACKENDS:
            if not reachable(backend):
                print(f"{backend}: not reachable, skipped", file=sys.stderr)
                continue
            print(f"{BACKEND_NAMES[backend]}...", file=sys.stderr, flush=True)
            runs.append(
                bench_backend(backend, orders=args.orders, burst=args.burst, folder=Path(folder))
            )
    print(
        "| database | confirmations | deliveries | changes made | duplicates prevented | "
        "confirmed write p50 / p95 |"
    )
    print("|---|---|---|---|---|---|")
    for run in runs:
        print(
            f"| {BACKEND_NAMES[run.backend]} | {run.confirmations} | {run.deliveries} | "
            f"{run.changes} | {run.duplicates_prevented} | "
            f"{run.p50_ms:.1f} / {run.p95_ms:.1f} ms |"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        figures = [{**asdict(run), "p50_ms": run.p50_ms, "p95_ms": run.p95_ms} for run in runs]
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
