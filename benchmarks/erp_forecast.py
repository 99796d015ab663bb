"""Backtest of the stock-out forecast (erp/forecast.py) on the demo ERP's sales history.

``python -m benchmarks.erp_forecast`` (``make bench-forecast``) seeds the demo ERP into a
temporary SQLite database (or reads ``--url``), reads every product's daily sales through
the mapping, and walks a rolling origin back over ``--origins`` weeks: at each origin the
forecast sees only the sales up to that day and says how many days a starting stock lasts;
the actual days are what the sales after the origin would have done to that stock.

The demo keeps no stock history (its stock levels are a snapshot as of the seed's today, and
its purchase orders all lie ahead), so the stock at an origin is simulated, in two
scenarios read from the ERP rather than from the sales: the product's available stock
today, and its reorder point (summed over the warehouses). Nothing is received after the
origin. Actual and forecast days are both capped at the horizon (a stock that outlasts it
counts as the horizon), and the error is compared with a naive forecast: the stock divided
by the average daily sales of the last ``--naive-days`` days.

    python -m benchmarks.erp_forecast --json var/bench/forecast.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from demo.seed import seed
from erp.db import make_engine
from erp.forecast import (
    CANCELLED,
    HISTORY_WEEKS,
    days_of_cover,
    forecast_demand,
    product_stock,
    sales_series,
)
from erp.schema import as_date, forget_schemas, schema_for

TODAY = date(2026, 11, 1)
SCALE = 1.0
HORIZON_DAYS = 28
ORIGINS = 12
NAIVE_DAYS = 28
# A product is backtested when it sold in at least this many of the weeks before an origin.
MIN_WEEKS_WITH_SALES = 8
SCENARIOS = ("available stock", "reorder point")
JSON_PATH = Path("var/bench/forecast.json")


@dataclass(frozen=True)
class Case:
    """One product at one origin in one scenario: days of cover, actual and forecast."""

    sku: str
    origin: date
    scenario: str
    stock: int
    actual: float
    model: float
    naive: float
    low: float
    high: float


@dataclass
class Summary:
    """One scenario's figures over every case."""

    scenario: str
    products: int
    cases: int
    ran_out: int
    mae_model: float
    mae_naive: float
    mae_model_ran_out: float
    mae_naive_ran_out: float
    interval_coverage: float
    cases_list: list[Case] = field(default_factory=list, repr=False)


def actual_days_of_cover(stock: float, future: Sequence[int], horizon_days: int) -> float:
    """Days ``stock`` lasted against the actual daily sales after the origin (day 1 first),
    by the same rule as :func:`erp.forecast.days_of_cover` (a day's sales leave evenly over
    the day); ``horizon_days`` when it outlasted them."""
    left = float(stock)
    for day, sold in enumerate(future[:horizon_days]):
        if sold >= left and sold > 0:
            return day + left / sold
        left -= sold
    return float(horizon_days)


def capped(days: float | None, horizon_days: int) -> float:
    """A forecast's days of cover capped at the horizon (None, never running out, is it)."""
    return float(horizon_days) if days is None else min(days, float(horizon_days))


def mean_absolute_error(pairs: Sequence[tuple[float, float]]) -> float:
    """Mean of ``|forecast - actual|`` over ``(forecast, actual)`` pairs (0 for none)."""
    if not pairs:
        return 0.0
    return statistics.fmean(abs(forecast - actual) for forecast, actual in pairs)


def naive_days(stock: float, history: Sequence[int], last_days: int) -> float | None:
    """The baseline: stock over the average daily sales of the last ``last_days`` days."""
    recent = list(history[-last_days:])
    rate = sum(recent) / last_days if recent else 0.0
    return days_of_cover(stock, rate, ())


def all_sales(session: Session, *, start: date, today: date) -> dict[Any, dict[date, int]]:
    """Units sold per product and day from ``start`` to ``today`` (through the mapping;
    orders whose status means cancelled left out)."""
    schema = schema_for(session)
    line = schema.table("order_line")
    query = (
        schema.select("order", "date", status=True)
        .join(line, schema.c("order_line", "order") == schema.c("order", "key"))
        .add_columns(
            schema.c("order_line", "product").label("product"),
            schema.c("order_line", "quantity").label("quantity"),
        )
        .where(
            schema.c("order", "date") >= start,
            schema.c("order", "date") < today + timedelta(days=1),
        )
    )
    sales: dict[Any, dict[date, int]] = {}
    for row in session.execute(query):
        values = row._mapping
        day = as_date(values["date"])
        if day is None or schema.status_meaning("order", values.get("status")) == CANCELLED:
            continue
        per_day = sales.setdefault(values["product"], {})
        per_day[day] = per_day.get(day, 0) + int(values["quantity"] or 0)
    return sales


def backtest(
    engine: Engine,
    *,
    today: date,
    horizon_days: int = HORIZON_DAYS,
    origins: int = ORIGINS,
    naive_last_days: int = NAIVE_DAYS,
) -> list[Summary]:
    """Rolling-origin backtest over the ERP behind ``engine``; one summary per scenario."""
    last_origin = today - timedelta(days=horizon_days)
    first_origin = last_origin - timedelta(days=7 * (origins - 1))
    history_start = first_origin - timedelta(days=7 * HISTORY_WEEKS - 1)
    cases: list[Case] = []
    with Session(engine) as session:
        schema = schema_for(session)
        sku_field = "sku" if schema.has("product", "sku") else "key"
        products = session.execute(schema.select("product", "key", sku_field)).all()
        sales = all_sales(session, start=history_start, today=today)
        for product in products:
            key, sku = product._mapping["key"], str(product._mapping[sku_field])
            by_day = sales.get(key, {})
            _, available, reorder_point = product_stock(schema, key, session=session)
            stocks = {"available stock": available, "reorder point": reorder_point}
            for index in range(origins):
                origin = first_origin + timedelta(days=7 * index)
                start = origin - timedelta(days=7 * HISTORY_WEEKS - 1)
                history = sales_series(by_day, today=origin, start=start)
                weekly_sales = [sum(history[i : i + 7]) for i in range(0, len(history), 7)]
                if sum(1 for week in weekly_sales if week) < MIN_WEEKS_WITH_SALES:
                    continue
                demand = forecast_demand(history, horizon_days=horizon_days)
                future = [
                    by_day.get(origin + timedelta(days=d), 0) for d in range(1, horizon_days + 1)
                ]
                for scenario, stock in stocks.items():
                    if stock is None:
                        continue
                    cases.append(
                        Case(
                            sku=sku,
                            origin=origin,
                            scenario=scenario,
                            stock=stock,
                            actual=actual_days_of_cover(stock, future, horizon_days),
                            model=capped(
                                days_of_cover(stock, float(demand.daily), ()), horizon_days
                            ),
                            naive=capped(naive_days(stock, history, naive_last_days), horizon_days),
                            low=capped(days_of_cover(stock, float(demand.high), ()), horizon_days),
                            high=capped(days_of_cover(stock, float(demand.low), ()), horizon_days),
                        )
                    )
    return [summarise(scenario, [c for c in cases if c.scenario == scenario], horizon_days)
            for scenario in SCENARIOS]  # fmt: skip


def summarise(scenario: str, cases: Sequence[Case], horizon_days: int) -> Summary:
    """MAE of the model and the baseline over all cases and over those that ran out."""
    ran_out = [c for c in cases if c.actual < horizon_days]
    return Summary(
        scenario=scenario,
        products=len({c.sku for c in cases}),
        cases=len(cases),
        ran_out=len(ran_out),
        mae_model=mean_absolute_error([(c.model, c.actual) for c in cases]),
        mae_naive=mean_absolute_error([(c.naive, c.actual) for c in cases]),
        mae_model_ran_out=mean_absolute_error([(c.model, c.actual) for c in ran_out]),
        mae_naive_ran_out=mean_absolute_error([(c.naive, c.actual) for c in ran_out]),
        interval_coverage=(
            sum(1 for c in cases if c.low <= c.actual <= c.high) / len(cases) if cases else 0.0
        ),
        cases_list=list(cases),
    )


def table(summaries: Sequence[Summary], horizon_days: int, naive_last_days: int) -> str:
    """The figures as the Markdown table docs/benchmarks.md shows."""
    lines = [
        f"| starting stock | products | cases | ran out within {horizon_days} d | "
        f"MAE model (days) | MAE naive {naive_last_days}-day mean | MAE model, ran out | "
        "MAE naive, ran out | 80% interval holds actual |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        lines.append(
            f"| {s.scenario} | {s.products} | {s.cases} | {s.ran_out} | {s.mae_model:.2f} | "
            f"{s.mae_naive:.2f} | {s.mae_model_ran_out:.2f} | {s.mae_naive_ran_out:.2f} | "
            f"{s.interval_coverage:.0%} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.erp_forecast", description=__doc__)
    parser.add_argument("--url", help="an ERP database to read (default: seed the demo)")
    parser.add_argument("--today", type=date.fromisoformat, default=TODAY, help="as-of date")
    parser.add_argument("--scale", type=float, default=SCALE, help=f"demo seed scale ({SCALE})")
    parser.add_argument("--horizon", type=int, default=HORIZON_DAYS, help="days ahead")
    parser.add_argument("--origins", type=int, default=ORIGINS, help="weekly origins")
    parser.add_argument("--naive-days", type=int, default=NAIVE_DAYS, help="baseline window")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    for name in ("horizon", "origins", "naive_days"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be greater than 0")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        forget_schemas()
        engine = make_engine(args.url or f"sqlite:///{Path(folder) / 'forecast.db'}")
        try:
            if not args.url:
                print(f"seeding the demo ERP at scale {args.scale}...", file=sys.stderr)
                seed(engine, scale=args.scale, today=args.today, progress=False)
            summaries = backtest(
                engine,
                today=args.today,
                horizon_days=args.horizon,
                origins=args.origins,
                naive_last_days=args.naive_days,
            )
        finally:
            engine.dispose()
            forget_schemas()
    elapsed = time.perf_counter() - started
    print(table(summaries, args.horizon, args.naive_days))
    print(f"({elapsed:.0f} s, seed and backtest)", file=sys.stderr)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        figures = {
            "today": args.today.isoformat(),
            "scale": None if args.url else args.scale,
            "horizon_days": args.horizon,
            "origins": args.origins,
            "naive_days": args.naive_days,
            "seconds": round(elapsed, 1),
            "scenarios": [
                {k: v for k, v in asdict(s).items() if k != "cases_list"} for s in summaries
            ],
            "cases": [
                {**asdict(c), "origin": c.origin.isoformat()}
                for s in summaries
                for c in s.cases_list
            ],
        }
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
