"""PNG charts for staff answers (a product's sales and projected stock, receivables ageing) and
the custom payload that carries one to the gateway.

Charts are drawn with matplotlib's object API (one ``Figure`` on its own ``FigureCanvasAgg``
per call, never pyplot and its global figure state), so renders from several threads do not
share a figure. matplotlib is imported on the first render, not when the action server
loads this package. The PNG has no timestamp or version in its metadata: the same input
gives the same bytes. A render takes a few tenths of a second of CPU: an async action draws
in a worker thread (``await anyio.to_thread.run_sync(...)``), not on the event loop.

The labels drawn in the image are English in every conversation: matplotlib's bundled font
(DejaVu Sans) has no Chinese glyphs and no CJK font is installed, so Chinese labels would
draw as empty boxes. The chart's title and alt text, which travel with it as text, are in
the conversation's language (actions/insights.py).

The payload contract (contracts/charts.py; the gateway reads it in connectors/charts.py)::

    dispatcher.utter_message(custom={"chart": {"title": str, "alt": str, "png": <base64>}})

Example:
    >>> png = forecast_chart(forecast, sales_history(sku, today=today, days=56, session=s))
    >>> utter_chart(dispatcher, title=f"{forecast.sku}: sales and stock",
    ...             alt=forecast.summary, png=png)
    True
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from rasa_sdk.executor import CollectingDispatcher

from contracts.charts import (
    MAX_ALT_CHARS,
    MAX_ENCODED_CHARS,
    MAX_TITLE_CHARS,
    PNG_SIGNATURE,
    ChartMessage,
)
from erp.forecast import StockoutForecast
from erp.receivables import BUCKETS, Ageing

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

WIDTH_INCHES, HEIGHT_INCHES, DPI = 8.0, 4.0, 100  # 800 x 400 pixels
# The projection runs over the forecast's horizon, longer when the expected stock-out is
# later, but never past this many times the horizon.
MAX_HORIZONS = 3
SALES_COLOUR = "#8fb3d9"
STOCK_COLOUR = "#1f4e79"
STOCKOUT_COLOUR = "#d9534f"
ORDER_COLOUR = "#2e8b57"
REORDER_COLOUR = "#e69f00"
CURRENCY_COLOURS = ("#1f4e79", "#e69f00", "#2e8b57", "#8e44ad", "#d9534f", "#7f8c8d")


def forecast_chart(forecast: StockoutForecast, history: Sequence[tuple[date, int]]) -> bytes:
    """A product's daily sales and its projected stock, as a PNG (800 x 400).

    Bars: units sold per day (``history``, from :func:`erp.forecast.sales_history`). Line:
    the available stock from the end of ``forecast.today`` on, used up at the expected daily
    demand and refilled by purchase orders at the start of their day (markers). Shaded: the
    stock-out range, the days from ``stockout_earliest`` to ``stockout_latest`` (to the
    chart's end when no stock-out is expected at the low end of demand). Dashed: the
    reorder point.

    Example:
        >>> png = forecast_chart(forecast, [(date(2026, 10, 31), 4), (date(2026, 11, 1), 6)])
        >>> png[:8] == PNG_SIGNATURE
        True
    """
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.ticker import MaxNLocator

    figure, sales = _figure()
    stock = sales.twinx()
    days = _projection_days(forecast)
    path = stock_path(forecast, days)
    start = _at(forecast.today, 1)  # time 0: the end of today
    end = _at(forecast.today, days + 1)

    if history:
        sales.bar(
            [_at(day, 0.5) for day, _ in history],
            [units for _, units in history],
            width=0.8,
            color=SALES_COLOUR,
            label="units sold per day",
        )
    stock.plot(
        [_at(forecast.today, 1 + t) for t, _ in path],
        [level for _, level in path],
        color=STOCK_COLOUR,
        linewidth=2,
        label="projected stock",
    )
    if forecast.stockout_earliest is not None:
        latest = forecast.stockout_latest
        stock.axvspan(
            _at(forecast.stockout_earliest, 0),
            end if latest is None else min(_at(latest, 1), end),
            color=STOCKOUT_COLOUR,
            alpha=0.15,
            linewidth=0,
            label="expected stock-out range",
        )
    arrivals = _arrivals(forecast, path, days)
    if arrivals:
        stock.plot(
            [when for when, _ in arrivals],
            [level for _, level in arrivals],
            linestyle="none",
            marker="^",
            markersize=9,
            color=ORDER_COLOUR,
            label="purchase order arrives",
        )
    stock.axhline(
        forecast.reorder_point,
        color=REORDER_COLOUR,
        linestyle="--",
        linewidth=1.2,
        label=f"reorder point ({forecast.reorder_point})",
    )
    sales.axvline(start, color="#555555", linestyle=":", linewidth=1, label="end of today")

    first = _at(history[0][0], 0) if history else _at(forecast.today, 0)
    sales.set_xlim(first, end)
    sales.set_ylim(bottom=0, top=max((units for _, units in history), default=0) * 1.1 or 1)
    sales.yaxis.set_major_locator(MaxNLocator(integer=True))
    top = max(*(level for _, level in path), forecast.reorder_point, 1)
    stock.set_ylim(bottom=0, top=top * 1.1)
    locator = AutoDateLocator()
    sales.xaxis.set_major_locator(locator)
    sales.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    sales.set_title(_clip(f"{forecast.sku} {forecast.name}: sales and projected stock", 80))
    sales.set_xlabel("date")
    sales.set_ylabel("sold (units per day)")
    stock.set_ylabel("in stock (units)")
    handles, labels = sales.get_legend_handles_labels()
    more_handles, more_labels = stock.get_legend_handles_labels()
    figure.legend(
        handles + more_handles,
        labels + more_labels,
        loc="outside lower center",
        ncols=4,
        fontsize=8,
        frameon=False,
    )
    return _png(figure)


def ageing_chart(ageing: Ageing) -> bytes:
    """Open receivables by days past due, as a PNG (800 x 400): one group of bars per
    bucket (current, 1-30, 31-60, 61-90, 90+), one bar per currency, each labelled with its
    number of invoices. Currencies share the axis but are never converted or added.

    Example:
        >>> png = ageing_chart(ageing(today=date(2026, 11, 1), session=session))
        >>> len(png) < 100_000
        True
    """
    from matplotlib.ticker import StrMethodFormatter

    figure, axes = _figure()
    positions = list(range(len(BUCKETS)))
    currencies = ageing.balances
    width = 0.8 / max(len(currencies), 1)
    for index, balances in enumerate(currencies):
        offset = (index - (len(currencies) - 1) / 2) * width
        bars = axes.bar(
            [p + offset for p in positions],
            [float(b.amount) for b in balances.buckets],
            width=width,
            color=CURRENCY_COLOURS[index % len(CURRENCY_COLOURS)],
            label=f"{balances.currency} (total {balances.total:,.2f})",
        )
        axes.bar_label(
            bars, labels=[_invoices(b.count) for b in balances.buckets], fontsize=7, padding=2
        )
    axes.set_xticks(positions, list(BUCKETS))
    axes.set_xlim(-0.5, len(BUCKETS) - 0.5)
    if currencies:
        axes.set_ylim(bottom=0)
        axes.margins(y=0.15)
        axes.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    else:
        axes.set_yticks([])
        axes.text(0.5, 0.5, "Nothing is owed.", transform=axes.transAxes, ha="center")
    axes.set_title(f"Receivables ageing as of {ageing.today.isoformat()}")
    axes.set_xlabel("days past due")
    axes.set_ylabel("amount owed (in each currency)")
    if currencies:
        axes.legend(loc="upper right", fontsize=8, framealpha=0.9)
    return _png(figure)


def stock_path(forecast: StockoutForecast, days: int) -> list[tuple[float, float]]:
    """The projected available stock as ``(time, units)`` corners of a line, over ``days``.

    Time is counted in days from the end of ``forecast.today`` (0), as
    :func:`erp.forecast.days_of_cover` counts it: stock falls at the expected daily demand
    until it reaches 0, a purchase order due on day d arrives at time d - 1 (a vertical step:
    two corners at the same time), and the line ends at ``days``.

    Example:
        >>> stock_path(forecast, 28)  # 50 available, 5 a day, no purchase orders
        [(0.0, 50.0), (10.0, 0.0), (28.0, 0.0)]
    """
    rate = float(forecast.demand.daily)
    receipts: dict[float, int] = {}
    for arrival, quantity in _receipts(forecast, days):
        receipts[arrival] = receipts.get(arrival, 0) + quantity
    left = float(forecast.available + receipts.pop(0.0, 0))
    path, now = [(0.0, left)], 0.0
    for moment in [*sorted(receipts), float(days)]:
        if left > 0 and rate * (moment - now) > left:
            path.append((now + left / rate, 0.0))
            left = 0.0
        elif left > 0:
            left -= rate * (moment - now)
        now = moment
        path.append((now, left))
        if moment in receipts:
            left += receipts[moment]
            path.append((now, left))
    return path


def chart_message(title: str, alt: str, png: bytes) -> ChartMessage | None:
    """The ``custom`` payload of a reply carrying a chart, or None (logged) when the PNG is
    too large to send.

    ``title`` names the chart (Slack's file title, the transcript's ``[chart] <title>``
    line); ``alt`` says what it shows in words (screen readers, Slack's comment with the
    file). Both are cut to MAX_TITLE_CHARS and MAX_ALT_CHARS.

    Example:
        >>> chart_message("WID-1001: sales and stock", "Runs out around 12 Nov.", png)
        {'chart': {'title': 'WID-1001: sales and stock', 'alt': '...', 'png': 'iVBORw0...'}}

    Raises:
        ValueError: ``title`` is blank or ``png`` is not a PNG.
    """
    title = " ".join(title.split())
    if not title:
        raise ValueError("title must not be blank")
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError(f"png must start with the PNG signature, got {png[:8]!r}")
    encoded = base64.b64encode(png).decode("ascii")
    if len(encoded) > MAX_ENCODED_CHARS:
        logger.warning(
            "chart %r not sent: %d base64 characters, the limit is %d",
            title[:60],
            len(encoded),
            MAX_ENCODED_CHARS,
        )
        return None
    alt = " ".join(alt.split()) or title
    # The gateway drops a chart over these limits (connectors/charts.py).
    title, alt = _clip(title, MAX_TITLE_CHARS), _clip(alt, MAX_ALT_CHARS)
    return {"chart": {"title": title, "alt": alt, "png": encoded}}


def utter_chart(dispatcher: CollectingDispatcher, *, title: str, alt: str, png: bytes) -> bool:
    """Send a chart as one reply; False (nothing sent, logged) when it is too large.

    Example:
        >>> utter_chart(dispatcher, title="Receivables ageing", alt=summary, png=png)
        True
    """
    custom = chart_message(title, alt, png)
    if custom is None:
        return False
    dispatcher.utter_message(custom=custom)
    return True


def _figure() -> tuple[Figure, Axes]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.grid(axis="y", color="#e5e5e5", linewidth=0.8)
    axes.set_axisbelow(True)
    return figure, axes


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    # No "Software" (matplotlib's version) and no creation time: the same chart, same bytes.
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _at(day: date, days: float) -> float:
    """The moment ``days`` days after the start of ``day``, in matplotlib's date units."""
    from matplotlib.dates import date2num

    return float(date2num(datetime(day.year, day.month, day.day) + timedelta(days=days)))


def _arrivals(
    forecast: StockoutForecast, path: list[tuple[float, float]], days: int
) -> list[tuple[float, float]]:
    """Where each dated purchase order within the chart arrives: its day's start, and the
    stock once it is in."""
    return [
        (_at(forecast.today, 1 + arrival), max(level for t, level in path if t == arrival))
        for arrival in sorted({arrival for arrival, _ in _receipts(forecast, days)})
    ]


def _receipts(forecast: StockoutForecast, days: int) -> list[tuple[float, int]]:
    """``(arrival time, quantity)`` of the purchase orders due from today on that arrive
    within ``days``: an order due on day d arrives at time d - 1 (on day 0 or 1: at once)."""
    found = []
    for supply in forecast.incoming:
        if supply.eta is not None and supply.eta >= forecast.today:
            arrival = float(max((supply.eta - forecast.today).days - 1, 0))
            if arrival < days:
                found.append((arrival, supply.quantity))
    return found


def _projection_days(forecast: StockoutForecast) -> int:
    days = forecast.horizon_days
    if forecast.stockout_date is not None:
        days = max(days, (forecast.stockout_date - forecast.today).days + 2)
    return min(days, MAX_HORIZONS * forecast.horizon_days)


def _invoices(count: int) -> str:
    if count == 0:
        return ""
    return "1 invoice" if count == 1 else f"{count} invoices"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."
