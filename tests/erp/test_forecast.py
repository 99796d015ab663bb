"""Stock-out forecast: known answers on synthetic histories, the demo ERP, the backtest's MAE."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session

from benchmarks.erp_forecast import Case, actual_days_of_cover, mean_absolute_error, summarise
from erp.errors import InvalidIdentifier, RecordNotFound
from erp.forecast import (
    IncomingSupply,
    StockoutForecast,
    days_of_cover,
    forecast_demand,
    forecast_stockout,
    forecast_with_history,
    sales_history,
    stockout_forecast,
)
from erp.models import OrderLine, Product, PurchaseOrder, SalesOrder, StockLevel
from tests.erp.conftest import SEED_TODAY

TODAY = date(2026, 11, 1)
EIGHT_WEEKS_OF_FIVE = [5] * 56


def _forecast(
    daily: list[int],
    available: int,
    *,
    incoming: tuple[IncomingSupply, ...] = (),
    reorder_point: int | None = 10,
) -> StockoutForecast:
    return stockout_forecast(
        sku="TST-0001",
        name="Test part",
        today=TODAY,
        daily_sales=daily,
        on_hand=available,
        available=available,
        incoming=incoming,
        reorder_point=reorder_point,
    )


def test_constant_demand_of_five_a_day_and_fifty_in_stock_lasts_ten_days() -> None:
    result = _forecast(EIGHT_WEEKS_OF_FIVE, 50)
    assert result.demand.method == "exponential smoothing"
    assert result.demand.daily == Decimal("5.000")
    assert result.days_of_cover == Decimal("10.0")
    assert result.stockout_date == TODAY + timedelta(days=10)
    assert result.within_horizon


@pytest.mark.parametrize("daily", [[], [0] * 56], ids=["no-history", "eight-weeks-of-zero"])
def test_a_product_without_sales_is_not_expected_to_run_out(daily: list[int]) -> None:
    result = _forecast(daily, 50, reorder_point=None)
    assert result.demand.method == "no sales"
    assert result.demand.daily == 0
    assert result.days_of_cover is None
    assert (result.stockout_date, result.stockout_earliest, result.stockout_latest) == (
        None,
        None,
        None,
    )
    assert not result.within_horizon
    assert result.reorder is None and result.reorder_point == 0
    assert "no stock-out expected" in result.summary


@pytest.mark.parametrize(
    ("eta_in_days", "expected_cover"),
    [(5, Decimal("20.0")), (15, Decimal("10.0")), (None, Decimal("10.0"))],
    ids=["before-running-out", "after-running-out", "without-a-date"],
)
def test_an_incoming_purchase_order_extends_cover_when_it_arrives_in_time(
    eta_in_days: int | None, expected_cover: Decimal
) -> None:
    eta = None if eta_in_days is None else TODAY + timedelta(days=eta_in_days)
    result = _forecast(EIGHT_WEEKS_OF_FIVE, 50, incoming=(IncomingSupply("PO-1", 50, eta),))
    assert result.days_of_cover == expected_cover


def test_days_of_cover_counts_a_receipt_from_the_start_of_its_day() -> None:
    assert days_of_cover(50, 5.0, [(11, 50)]) == 20.0
    assert days_of_cover(50, 5.0, [(12, 50)]) == 10.0
    assert days_of_cover(0, 5.0, [(3, 50)]) == 0.0
    assert days_of_cover(50, 0.0, [(3, 50)]) is None


def test_the_interval_contains_the_point_estimate() -> None:
    rng = random.Random(3)
    daily = [rng.choice((0, 0, 0, 10, 20)) for _ in range(26 * 7)]
    result = _forecast(daily, 200)
    demand = result.demand
    assert demand.low < demand.daily < demand.high
    assert result.stockout_earliest is not None and result.stockout_date is not None
    assert result.stockout_latest is not None
    assert result.stockout_earliest < result.stockout_date < result.stockout_latest


def test_demand_follows_a_recent_change_unlike_an_average() -> None:
    daily = [1] * (20 * 7) + [3] * (6 * 7)  # the whole history averages 1.46 a day
    demand = forecast_demand(daily, horizon_days=28)
    assert demand.method == "exponential smoothing"
    assert demand.daily > Decimal("2.5")


@pytest.mark.parametrize(
    ("available", "reorder_point", "expected_quantity"),
    [(40, 100, 200), (150, 100, None), (100, 100, None)],
    ids=["below", "above", "at"],
)
def test_a_reorder_is_suggested_below_the_reorder_point(
    available: int, reorder_point: int, expected_quantity: int | None
) -> None:
    result = _forecast(EIGHT_WEEKS_OF_FIVE, available, reorder_point=reorder_point)
    assert result.reorder_point_source == "erp"
    quantity = result.reorder.quantity if result.reorder is not None else None
    # Back to the reorder point plus 28 days at 5 a day.
    assert quantity == expected_quantity


def test_without_a_reorder_point_it_is_lead_time_demand_plus_safety_stock() -> None:
    steady = _forecast(EIGHT_WEEKS_OF_FIVE, 60, reorder_point=None)
    assert steady.reorder_point_source == "computed"
    assert steady.reorder_point == 70  # 14 days at 5, no spread so no safety stock
    assert steady.reorder is not None and steady.reorder.position == 60
    rng = random.Random(5)
    noisy = _forecast([rng.choice((0, 10)) for _ in range(56)], 60, reorder_point=None)
    assert noisy.reorder_point > round(float(noisy.demand.daily) * 14)


def test_an_incoming_order_counts_in_the_position_so_no_second_reorder() -> None:
    incoming = (IncomingSupply("PO-1", 100, TODAY + timedelta(days=30)),)
    result = _forecast(EIGHT_WEEKS_OF_FIVE, 40, incoming=incoming, reorder_point=100)
    assert result.reorder is None


def test_horizon_is_validated() -> None:
    with pytest.raises(ValueError, match="horizon_days must be greater than 0, got 0"):
        forecast_demand(EIGHT_WEEKS_OF_FIVE, horizon_days=0)


# On the demo ERP ---------------------------------------------------------------------------


def _add_product(session: Session, sku: str, *, on_hand: int, reorder_point: int) -> None:
    """A product selling 5 a day for eight weeks up to SEED_TODAY, plus a cancelled order of
    1000 the forecast must ignore; nothing is committed (the fixture rolls back)."""
    session.execute(
        insert(Product).values(
            sku=sku, name="Forecast test part", category="Test", unit_price=1, description="-"
        )
    )
    session.execute(
        insert(StockLevel).values(
            sku=sku, warehouse_code="MAN", on_hand=on_hand, reserved=0, reorder_point=reorder_point
        )
    )
    orders, lines = [], []
    for age in [*range(56), 3]:
        number = f"SO-9{len(orders):05d}"
        cancelled = len(orders) == 56
        orders.append(
            {
                "order_number": number,
                "customer_id": 1,
                "status": "cancelled" if cancelled else "delivered",
                "order_date": SEED_TODAY - timedelta(days=age),
                "total": 5,
            }
        )
        quantity = 1000 if cancelled else 5
        lines.append({"order_number": number, "sku": sku, "quantity": quantity, "unit_price": 1})
    session.execute(insert(SalesOrder), orders)
    session.execute(insert(OrderLine), lines)


def test_forecast_on_the_demo_erp(session: Session) -> None:
    _add_product(session, "TST-9001", on_hand=50, reorder_point=80)
    result = forecast_stockout("tst9001", today=SEED_TODAY, session=session)
    assert result.sku == "TST-9001"
    assert (result.on_hand, result.available) == (50, 50)
    assert result.demand.daily == Decimal("5.000")
    assert result.days_of_cover == Decimal("10.0")
    assert result.stockout_date == SEED_TODAY + timedelta(days=10)
    assert result.reorder_point == 80 and result.reorder_point_source == "erp"
    assert result.reorder is not None and result.reorder.quantity == 80 + 140 - 50


def test_purchase_orders_are_read_through_the_mapping(session: Session) -> None:
    _add_product(session, "TST-9002", on_hand=50, reorder_point=10)
    session.execute(
        insert(PurchaseOrder),
        [
            {
                "po_number": "PO-99001",
                "sku": "TST-9002",
                "warehouse_code": "ROT",
                "quantity": 50,
                "eta": SEED_TODAY + timedelta(days=5),
            },
            {  # due before today: received or late, not incoming
                "po_number": "PO-99002",
                "sku": "TST-9002",
                "warehouse_code": "ROT",
                "quantity": 500,
                "eta": SEED_TODAY - timedelta(days=2),
            },
        ],
    )
    result = forecast_stockout("TST-9002", today=SEED_TODAY, session=session)
    assert [(s.reference, s.quantity) for s in result.incoming] == [("PO-99001", 50)]
    assert result.days_of_cover == Decimal("20.0")


def test_sales_history_lists_every_day_of_the_window_without_cancelled_orders(
    session: Session,
) -> None:
    _add_product(session, "TST-9003", on_hand=50, reorder_point=10)  # 5 a day for 56 days

    history = sales_history("tst9003", today=SEED_TODAY, days=60, session=session)

    assert [day for day, _ in history] == [SEED_TODAY - timedelta(days=59 - i) for i in range(60)]
    assert [units for _, units in history] == [0] * 4 + [5] * 56  # not the cancelled 1000
    assert sales_history("TST-9003", today=SEED_TODAY, days=1, session=session) == [(SEED_TODAY, 5)]


def test_sales_history_checks_its_window_and_the_sku(session: Session) -> None:
    with pytest.raises(ValueError, match="days must be a whole number greater than 0, got 0"):
        sales_history("WID-1001", today=SEED_TODAY, days=0, session=session)
    with pytest.raises(RecordNotFound):
        sales_history("zzz-9999", today=SEED_TODAY, days=7, session=session)


def test_unknown_and_malformed_skus_fail_as_in_inventory(session: Session) -> None:
    with pytest.raises(RecordNotFound, match="no product ZZZ-9999 was found"):
        forecast_stockout("zzz-9999", today=SEED_TODAY, session=session)
    with pytest.raises(InvalidIdentifier):
        forecast_stockout("not a sku", today=SEED_TODAY, session=session)


# The backtest ------------------------------------------------------------------------------


def test_actual_days_of_cover_from_later_sales() -> None:
    assert actual_days_of_cover(50, [5] * 30, 28) == 10.0
    assert actual_days_of_cover(50, [0, 0, 20, 40], 28) == 3.75  # runs out during day 4
    assert actual_days_of_cover(50, [1] * 30, 28) == 28.0  # outlasts the horizon


def test_backtest_mean_absolute_error_on_a_tiny_case() -> None:
    assert mean_absolute_error([(10.0, 8.0), (5.0, 9.0)]) == 3.0
    origin = TODAY
    cases = [
        Case("A", origin, "s", 50, actual=10.0, model=12.0, naive=4.0, low=8.0, high=14.0),
        Case("B", origin, "s", 90, actual=28.0, model=20.0, naive=28.0, low=15.0, high=28.0),
    ]
    summary = summarise("s", cases, horizon_days=28)
    assert (summary.products, summary.cases, summary.ran_out) == (2, 2, 1)
    assert summary.mae_model == 5.0  # (2 + 8) / 2
    assert summary.mae_naive == 3.0  # (6 + 0) / 2
    assert (summary.mae_model_ran_out, summary.mae_naive_ran_out) == (2.0, 6.0)
    assert summary.interval_coverage == 1.0


def test_forecasts_in_many_threads_at_once_leak_no_warning() -> None:
    """The action server forecasts in worker threads; pytest turns any warning into an error."""
    from concurrent.futures import ThreadPoolExecutor

    from erp.forecast import forecast_demand

    noisy = random.Random(5)
    series = [[5] * 70, [0] * 63 + [3] * 7, [noisy.randint(0, 9) for _ in range(84)]]

    def fit(index: int) -> Decimal:
        return forecast_demand(series[index % 3], horizon_days=28, simulations=200).daily

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(fit, range(24)))
    assert results[:3] == results[3:6]  # the same series, the same forecast, whichever thread


@pytest.mark.parametrize("days", [1, 56, 60, 182], ids=["a-day", "the-chart", "60", "all"])
def test_the_forecast_with_its_history_is_the_two_read_apart(session: Session, days: int) -> None:
    _add_product(session, "TST-9003", on_hand=50, reorder_point=10)

    forecast, history = forecast_with_history(
        "tst9003", today=SEED_TODAY, days=days, session=session
    )

    assert forecast == forecast_stockout("TST-9003", today=SEED_TODAY, session=session)
    assert history == sales_history("TST-9003", today=SEED_TODAY, days=days, session=session)


def test_the_history_with_a_forecast_is_at_most_the_forecast_s(session: Session) -> None:
    with pytest.raises(ValueError, match="days must be at most 182, got 183"):
        forecast_with_history("WID-1001", today=SEED_TODAY, days=183, session=session)
