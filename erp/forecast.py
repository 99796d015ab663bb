"""Stock-out forecast for one product: expected demand, days of cover, reorder suggestion.

Demand is the product's sales history (order lines of orders not cancelled, through the
mapping) summed into weeks ending on ``today``; exponential smoothing (statsmodels'
``SimpleExpSmoothing``, i.e. ETS(A,N,N)) gives the expected weekly demand, and paths
simulated from the fitted model give its interval. Weeks, not days: demo and real B2B
demand per product is intermittent (most days sell nothing, weekends almost nothing), and a
daily series would make the model chase single orders and the weekday pattern; a week holds
enough orders to smooth. Simple smoothing, not Holt: a trend fitted to noisy weekly demand
extrapolates the noise over a four-week horizon (docs/benchmarks.md measures the result).

Example:
    >>> with Session(engine) as session:
    ...     result = forecast_stockout("WID-1001", today=date(2026, 11, 1), session=session)
    >>> result.days_of_cover, result.stockout_date, result.reorder
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from erp.inventory import find_product
from erp.schema import MappedSchema, as_date, schema_for

DEFAULT_HORIZON_DAYS = 28
DEFAULT_LEAD_TIME_DAYS = 14
HISTORY_WEEKS = 26
MIN_MODEL_WEEKS = 4
SIMULATIONS = 1000
SIMULATION_SEED = 17
# The demand interval: 10th to 90th percentile of the simulated average daily demand.
INTERVAL = (10.0, 90.0)
# Safety stock for the computed reorder point: 95% cycle service level (one-sided z).
SERVICE_Z = 1.645
# A suggested order brings the stock position back to the reorder point plus this much demand.
ORDER_COVER_DAYS = 28
CANCELLED = "cancelled"
_RATE = Decimal("0.001")
_DAYS = Decimal("0.1")


_FIT_LOCK = threading.Lock()


@dataclass(frozen=True)
class DemandForecast:
    """Expected units sold per day over the horizon, with an interval (``low``-``high``).

    ``method`` says how it was made: ``"exponential smoothing"``, ``"average"`` (fewer than
    MIN_MODEL_WEEKS weeks since the first sale) or ``"no sales"``.
    """

    daily: Decimal
    low: Decimal
    high: Decimal
    weeks: int
    method: str
    residual_sd_weekly: Decimal


@dataclass(frozen=True)
class IncomingSupply:
    """A purchase order bringing ``quantity`` units; ``eta`` None: no date in the ERP."""

    reference: str
    quantity: int
    eta: date | None


@dataclass(frozen=True)
class ReorderSuggestion:
    """Order ``quantity`` units: the stock position (available plus on order) is below the
    reorder point."""

    reorder_point: int
    position: int
    quantity: int


@dataclass(frozen=True)
class StockoutForecast:
    """When a product is expected to run out, and whether to reorder.

    ``days_of_cover`` is how long the available stock (plus purchase orders due with a
    date) lasts at the expected demand; None when no stock-out is expected (no demand).
    ``stockout_earliest``/``stockout_latest`` are the stock-out dates at the high and low end
    of the demand interval (latest None: at the low end no stock-out is expected).
    ``within_horizon`` says whether the expected date falls within ``horizon_days``.
    ``reorder_point_source`` is ``"erp"`` (the mapping's reorder points, summed over the
    warehouses) or ``"computed"`` (lead-time demand plus safety stock).
    """

    sku: str
    name: str
    today: date
    horizon_days: int
    on_hand: int
    available: int
    incoming: tuple[IncomingSupply, ...]
    demand: DemandForecast
    days_of_cover: Decimal | None
    stockout_date: date | None
    stockout_earliest: date | None
    stockout_latest: date | None
    within_horizon: bool
    reorder_point: int
    reorder_point_source: str
    reorder: ReorderSuggestion | None

    @property
    def summary(self) -> str:
        """One sentence for a colleague at the helpdesk."""
        if self.stockout_date is None:
            return f"{self.sku}: no stock-out expected ({self.demand.method}, no demand)."
        return (
            f"{self.sku}: {self.available} available, about {self.demand.daily} sold a day; "
            f"expected to run out on {self.stockout_date.isoformat()} "
            f"(between {_shown(self.stockout_earliest)} and {_shown(self.stockout_latest)})."
        )


def _shown(day: date | None) -> str:
    return day.isoformat() if day is not None else "no stock-out"


# The model ---------------------------------------------------------------------------------


def weekly_totals(daily: Sequence[int]) -> list[int]:
    """Sum a daily series (oldest first, the last entry is ``today``) into weeks ending on
    its last day; a first, incomplete week is dropped."""
    whole = len(daily) // 7
    start = len(daily) - whole * 7
    return [int(sum(daily[start + 7 * i : start + 7 * (i + 1)])) for i in range(whole)]


def forecast_demand(
    daily: Sequence[int], *, horizon_days: int, simulations: int = SIMULATIONS
) -> DemandForecast:
    """Expected daily demand over the next ``horizon_days`` from a daily sales history.

    The history starts at the product's first sale (or HISTORY_WEEKS before ``today``) and
    ends on ``today``. Weekly totals are fitted by ``SimpleExpSmoothing`` (smoothing level
    and initial level estimated); its flat forecast divided by 7 is the point. The interval:
    ``simulations`` paths over the horizon from ``HoltWintersResults.simulate`` (anchored at
    the end of the history, normal errors with the fitted residual variance; the level
    carries each error forward, so the spread grows with the horizon), negative weeks clipped
    to 0, each path's average daily demand, 10th and 90th percentile. With fewer than
    MIN_MODEL_WEEKS weeks the mean week is the point and the lowest and highest week bound it.

    Raises:
        ValueError: ``horizon_days`` or ``simulations`` is not positive.
    """
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be greater than 0, got {horizon_days}")
    if simulations < 1:
        raise ValueError(f"simulations must be greater than 0, got {simulations}")
    weeks = weekly_totals(daily)
    if not weeks or not any(weeks):
        zero = Decimal(0)
        return DemandForecast(zero, zero, zero, len(weeks), "no sales", zero)
    if len(weeks) < MIN_MODEL_WEEKS:
        return DemandForecast(
            _rate(sum(weeks) / len(weeks) / 7),
            _rate(min(weeks) / 7),
            _rate(max(weeks) / 7),
            len(weeks),
            "average",
            _rate(float(np.std(weeks))),
        )
    # statsmodels is heavy: loaded on the first forecast, not when erp is imported.
    from statsmodels.tools.sm_exceptions import ConvergenceWarning
    from statsmodels.tsa.holtwinters import SimpleExpSmoothing

    series = np.asarray(weeks, dtype=float)
    horizon_weeks = math.ceil(horizon_days / 7)
    # A short series may stop short of the optimum (the fit is still usable), and a perfectly
    # flat one has a residual sum of 0, whose log statsmodels takes for the AIC. numpy's
    # errstate is per thread; the warning filters are global, so fits take turns (the action
    # server makes forecasts in worker threads; a fit takes milliseconds).
    with _FIT_LOCK, warnings.catch_warnings(), np.errstate(divide="ignore"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = SimpleExpSmoothing(series, initialization_method="estimated").fit()
        weekly = max(float(fitted.forecast(1)[0]), 0.0)
        paths = np.asarray(
            fitted.simulate(
                horizon_weeks,
                anchor="end",
                repetitions=simulations,
                error="add",
                rng=np.random.default_rng(SIMULATION_SEED),
            ),
            dtype=float,
        ).reshape(horizon_weeks, simulations)
    per_day = np.clip(paths, 0.0, None).mean(axis=0) / 7
    low, high = (float(v) for v in np.percentile(per_day, INTERVAL))
    point = weekly / 7
    residual_sd = math.sqrt(max(float(fitted.sse), 0.0) / len(series))
    # Clipping lifts the simulated low end; keep the interval around the point it belongs to.
    return DemandForecast(
        _rate(point),
        _rate(min(low, point)),
        _rate(max(high, point)),
        len(weeks),
        "exponential smoothing",
        _rate(residual_sd),
    )


def days_of_cover(stock: float, daily: float, receipts: Iterable[tuple[int, int]]) -> float | None:
    """How many days ``stock`` lasts at ``daily`` units a day, with receipts.

    Time runs from the end of ``today`` (0); day d is (d-1, d]. A receipt ``(d, quantity)``
    arrives at the start of day d (d <= 1: at once). Stock running out before a receipt is
    a stock-out, even if the receipt refills it later; reaching 0 just as it arrives is not.
    None when ``daily`` is 0 (never runs out).
    """
    if daily <= 0:
        return None
    left, elapsed = float(stock), 0.0
    for day, quantity in sorted(receipts):
        arrival = max(day - 1, 0)
        used = daily * (arrival - elapsed)
        if used > left:
            break
        left, elapsed = left - used + quantity, float(arrival)
    return elapsed + max(left, 0.0) / daily


def stockout_forecast(
    *,
    sku: str,
    name: str,
    today: date,
    daily_sales: Sequence[int],
    on_hand: int,
    available: int,
    incoming: Sequence[IncomingSupply] = (),
    reorder_point: int | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    lead_time_days: int = DEFAULT_LEAD_TIME_DAYS,
) -> StockoutForecast:
    """The forecast from data already read (what :func:`forecast_stockout` does after its
    queries; tests and the backtest call it directly).

    Cover is counted from the ``available`` stock (on hand minus what is reserved for
    orders already placed: those orders are in the sales history, their units must not be
    sold twice), plus purchase orders due on or after ``today``; a purchase order without a
    date counts in the stock position for reordering but not in the cover (nobody knows
    when it comes). Without a ``reorder_point`` from the ERP: expected demand over
    ``lead_time_days`` plus safety stock SERVICE_Z x weekly residual SD x sqrt(lead time in
    weeks). A reorder is suggested when available plus everything on order is below it, for
    the reorder point plus ORDER_COVER_DAYS of demand.

    Raises:
        ValueError: ``horizon_days`` or ``lead_time_days`` is not positive.
    """
    if lead_time_days < 1:
        raise ValueError(f"lead_time_days must be greater than 0, got {lead_time_days}")
    demand = forecast_demand(daily_sales, horizon_days=horizon_days)
    receipts = [
        ((supply.eta - today).days, supply.quantity)
        for supply in incoming
        if supply.eta is not None and supply.eta >= today
    ]

    def cover(rate: Decimal) -> float | None:
        return days_of_cover(available, float(rate), receipts)

    point, earliest, latest = cover(demand.daily), cover(demand.high), cover(demand.low)
    source = "erp"
    if reorder_point is None:
        source = "computed"
        safety = SERVICE_Z * float(demand.residual_sd_weekly) * math.sqrt(lead_time_days / 7)
        reorder_point = math.ceil(float(demand.daily) * lead_time_days + safety)
    position = available + sum(supply.quantity for supply in incoming)
    reorder = None
    if position < reorder_point:
        target = reorder_point + float(demand.daily) * ORDER_COVER_DAYS
        reorder = ReorderSuggestion(reorder_point, position, max(math.ceil(target - position), 1))
    return StockoutForecast(
        sku=sku,
        name=name,
        today=today,
        horizon_days=horizon_days,
        on_hand=on_hand,
        available=available,
        incoming=tuple(incoming),
        demand=demand,
        days_of_cover=None if point is None else _days(point),
        stockout_date=_date(today, point),
        stockout_earliest=_date(today, earliest),
        stockout_latest=_date(today, latest),
        within_horizon=point is not None and point <= horizon_days,
        reorder_point=reorder_point,
        reorder_point_source=source,
        reorder=reorder,
    )


def _date(today: date, days: float | None) -> date | None:
    return None if days is None else today + timedelta(days=math.ceil(round(days, 6)))


def _rate(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(_RATE, rounding=ROUND_HALF_UP)


def _days(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(_DAYS, rounding=ROUND_HALF_UP)


# Reading the ERP ---------------------------------------------------------------------------


def forecast_stockout(
    sku: str,
    *,
    today: date,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    lead_time_days: int = DEFAULT_LEAD_TIME_DAYS,
    session: Session,
) -> StockoutForecast:
    """Forecast when a product runs out of stock, and whether to reorder it.

    Reads through the mapping in use: the product, its stock in every warehouse (on hand,
    reserved, reorder points where mapped), its purchase orders (where the ERP keeps them)
    and its sales of the last HISTORY_WEEKS weeks up to ``today`` (order lines of orders
    whose status does not mean cancelled). See :func:`stockout_forecast` for the rules.

    Args:
        sku: Product code in any case, with or without the dash (``wid1001``).
        today: The last day of the history; the forecast starts the day after.
        horizon_days: Days ahead the demand interval covers.
        lead_time_days: Supplier lead time for a computed reorder point.
        session: Open database session.

    Raises:
        InvalidIdentifier: ``sku`` is not a product code of this ERP.
        RecordNotFound: No product has this SKU.
        ValueError: ``horizon_days`` or ``lead_time_days`` is not positive.
    """
    forecast, _ = _forecast_and_sales(sku, today, horizon_days, lead_time_days, session)
    return forecast


def forecast_with_history(
    sku: str,
    *,
    today: date,
    days: int = 56,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    lead_time_days: int = DEFAULT_LEAD_TIME_DAYS,
    session: Session,
) -> tuple[StockoutForecast, list[tuple[date, int]]]:
    """:func:`forecast_stockout` and :func:`sales_history` of the same product (the forecast's
    chart) from one read of its sales.

    Raises:
        InvalidIdentifier: ``sku`` is not a product code of this ERP.
        RecordNotFound: No product has this SKU.
        ValueError: ``horizon_days`` or ``lead_time_days`` is not positive, or ``days`` is
            not a whole number of 1 to the forecast's history (7 * HISTORY_WEEKS).
    """
    _check_window(days, most=7 * HISTORY_WEEKS)
    forecast, sold = _forecast_and_sales(sku, today, horizon_days, lead_time_days, session)
    return forecast, _window(sold, today=today, days=days)


def _forecast_and_sales(
    sku: str, today: date, horizon_days: int, lead_time_days: int, session: Session
) -> tuple[StockoutForecast, list[int]]:
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be greater than 0, got {horizon_days}")
    schema = schema_for(session)
    values, sku_field = find_product(schema, sku, session=session)
    on_hand, available, reorder_point = product_stock(schema, values["key"], session=session)
    sold = daily_sales(schema, values["key"], today=today, session=session)
    forecast = stockout_forecast(
        sku=str(values[sku_field]),
        name=str(values["name"]),
        today=today,
        daily_sales=sold,
        on_hand=on_hand,
        available=available,
        incoming=incoming_supply(schema, values["key"], today=today, session=session),
        reorder_point=reorder_point,
        horizon_days=horizon_days,
        lead_time_days=lead_time_days,
    )
    return forecast, sold


def sales_history(
    sku: str, *, today: date, days: int = 56, session: Session
) -> list[tuple[date, int]]:
    """A product's units sold per day over the ``days`` days ending on ``today``.

    The same sales the forecast reads (:func:`daily_sales`: order lines of orders not
    cancelled, through the mapping), with every day of the window listed, 0 when nothing
    was sold; oldest first.

    Example:
        >>> sales_history("WID-1001", today=date(2026, 11, 1), days=3, session=session)
        [(datetime.date(2026, 10, 30), 4), (datetime.date(2026, 10, 31), 0), ...]

    Raises:
        InvalidIdentifier: ``sku`` is not a product code of this ERP.
        RecordNotFound: No product has this SKU.
        ValueError: ``days`` is not positive.
    """
    _check_window(days)
    schema = schema_for(session)
    values, _ = find_product(schema, sku, session=session)
    first = today - timedelta(days=days - 1)
    sold = daily_sales(schema, values["key"], today=today, start=first, session=session)
    return _window(sold, today=today, days=days)


def _check_window(days: int, most: int | None = None) -> None:
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"days must be a whole number greater than 0, got {days!r}")
    if most is not None and days > most:
        raise ValueError(f"days must be at most {most}, got {days}")


def _window(sold: Sequence[int], *, today: date, days: int) -> list[tuple[date, int]]:
    """The last ``days`` days of a daily series ending on ``today``, dated; the days before
    the series (it starts at the first sale's week) sold nothing."""
    padded = ([0] * days + list(sold))[-days:]
    first = today - timedelta(days=days - 1)
    return [(first + timedelta(days=i), units) for i, units in enumerate(padded)]


def daily_sales(
    schema: MappedSchema,
    product: Any,
    *,
    today: date,
    start: date | None = None,
    session: Session,
) -> list[int]:
    """Units of ``product`` sold per day (oldest first, ending on ``today``), from its first
    sale on or after ``start`` (default: HISTORY_WEEKS weeks before ``today``); empty when
    nothing was sold. Orders whose status means cancelled do not count."""
    first = start or today - timedelta(days=7 * HISTORY_WEEKS - 1)
    line = schema.table("order_line")
    query = (
        schema.select("order", "date", status=True)
        .join(line, schema.c("order_line", "order") == schema.c("order", "key"))
        .add_columns(schema.c("order_line", "quantity").label("quantity"))
        .where(
            schema.c("order_line", "product") == product,
            schema.c("order", "date") >= first,
            # Dates may be DATETIME columns: anything before the next day is ``today``.
            schema.c("order", "date") < today + timedelta(days=1),
        )
    )
    by_day: dict[date, int] = {}
    for row in session.execute(query):
        day = as_date(row._mapping["date"])
        if day is None or schema.status_meaning("order", row._mapping.get("status")) == CANCELLED:
            continue
        by_day[day] = by_day.get(day, 0) + int(row._mapping["quantity"] or 0)
    return sales_series(by_day, today=today, start=first)


def sales_series(by_day: dict[date, int], *, today: date, start: date) -> list[int]:
    """Daily units from ``by_day`` (oldest first, ending on ``today``), from the first sale on
    or after ``start``, begun on a whole week before ``today`` so the first sale's week is
    complete; empty when nothing was sold in that window."""
    sold = [day for day, quantity in by_day.items() if start <= day <= today and quantity]
    if not sold:
        return []
    span = (today - min(sold)).days + 1
    begin = max(today - timedelta(days=7 * math.ceil(span / 7) - 1), start)
    return [by_day.get(begin + timedelta(days=i), 0) for i in range((today - begin).days + 1)]


def product_stock(
    schema: MappedSchema, product: Any, *, session: Session
) -> tuple[int, int, int | None]:
    """``(on_hand, available, reorder_point)`` summed over the warehouses; reorder point
    None when the ERP keeps none."""
    if not schema.has("stock"):
        return 0, 0, None
    fields = ("on_hand", "reserved", "available", "reorder_point")
    query = schema.select("stock", *fields).where(schema.c("stock", "product") == product)
    on_hand = available = 0
    reorder: int | None = None
    for row in session.execute(query):
        values = row._mapping
        held = int(values.get("on_hand", values.get("available")) or 0)
        free = values.get("available")
        on_hand += held
        available += (
            max(held - int(values.get("reserved") or 0), 0) if free is None else max(int(free), 0)
        )
        if values.get("reorder_point") is not None:
            reorder = (reorder or 0) + int(values["reorder_point"])
    return on_hand, available, reorder


def incoming_supply(
    schema: MappedSchema, product: Any, *, today: date, session: Session
) -> tuple[IncomingSupply, ...]:
    """Purchase orders of ``product`` due on or after ``today`` (or without a date), earliest
    first; none when the ERP keeps no purchase orders."""
    if not schema.has("supply"):
        return ()
    query = schema.select("supply", "reference", "quantity", "eta").where(
        schema.c("supply", "product") == product, schema.c("supply", "quantity") > 0
    )
    if schema.has("supply", "eta"):
        query = query.where(schema.c("supply", "eta") >= today)
    found = [
        IncomingSupply(
            reference=str(row._mapping.get("reference") or ""),
            quantity=int(row._mapping["quantity"]),
            eta=as_date(row._mapping.get("eta")),
        )
        for row in session.execute(query)
    ]
    return tuple(sorted(found, key=lambda s: (s.eta is None, s.eta or today, s.reference)))
