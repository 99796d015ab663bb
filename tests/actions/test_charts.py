"""Charts for staff answers: small deterministic PNGs, safe to draw from several threads, and
the custom payload that carries one to the gateway."""

from __future__ import annotations

import base64
import logging
import struct
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.charts import (
    MAX_ALT_CHARS,
    MAX_ENCODED_CHARS,
    MAX_TITLE_CHARS,
    PNG_SIGNATURE,
    ageing_chart,
    chart_message,
    forecast_chart,
    stock_path,
    utter_chart,
)
from erp.forecast import IncomingSupply, StockoutForecast, stockout_forecast
from erp.receivables import BUCKETS, Ageing, Balances, Bucket

TODAY = date(2026, 11, 1)
SALES = [0, 3, 5, 8, 0, 12, 5] * 8


def _forecast(
    *, available: int = 100, incoming: tuple[IncomingSupply, ...] = ()
) -> StockoutForecast:
    return stockout_forecast(
        sku="WID-1001",
        name="Steel widget 40 mm",
        today=TODAY,
        daily_sales=SALES,
        on_hand=available,
        available=available,
        incoming=incoming,
        reorder_point=60,
    )


def _history() -> list[tuple[date, int]]:
    return [(TODAY - timedelta(days=len(SALES) - 1 - i), units) for i, units in enumerate(SALES)]


def _balances(currency: str, counts: list[int], amounts: list[str]) -> Balances:
    return Balances(
        currency,
        tuple(Bucket(b, c, Decimal(a)) for b, c, a in zip(BUCKETS, counts, amounts, strict=True)),
    )


AGEING = Ageing(
    TODAY,
    (
        _balances("EUR", [4, 2, 1, 0, 3], ["5400.10", "2100.00", "950.50", "0.00", "4268.55"]),
        _balances("GBP", [1, 3, 2, 1, 0], ["800.00", "3999.67", "1200.00", "300.00", "0.00"]),
    ),
)
PO = IncomingSupply("PO-20001", 60, TODAY + timedelta(days=9))


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """The PNG's chunks as (type, data)."""
    found, at = [], len(PNG_SIGNATURE)
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        found.append((png[at + 4 : at + 8], png[at + 8 : at + 8 + length]))
        at += 12 + length
    return found


def _forecast_png() -> bytes:
    return forecast_chart(_forecast(incoming=(PO,)), _history())


def _ageing_png() -> bytes:
    return ageing_chart(AGEING)


@pytest.mark.parametrize("draw", [_forecast_png, _ageing_png], ids=["forecast", "ageing"])
def test_a_chart_is_a_small_800_by_400_png_without_a_timestamp(draw: Callable[[], bytes]) -> None:
    png = draw()

    assert png.startswith(PNG_SIGNATURE)
    assert 5_000 < len(png) < 100_000
    chunks = _chunks(png)
    assert chunks[0][0] == b"IHDR" and struct.unpack(">II", chunks[0][1][:8]) == (800, 400)
    kinds = [kind for kind, _ in chunks]
    assert b"tIME" not in kinds and kinds[-1] == b"IEND"
    assert not any(b"Software" in data or b"matplotlib" in data for _, data in chunks)


@pytest.mark.parametrize("draw", [_forecast_png, _ageing_png], ids=["forecast", "ageing"])
def test_the_same_input_draws_the_same_bytes(draw: Callable[[], bytes]) -> None:
    assert draw() == draw()


def test_what_the_forecast_chart_shows_changes_its_picture() -> None:
    with_order = _forecast_png()
    without_order = forecast_chart(_forecast(), _history())
    no_history = forecast_chart(_forecast(incoming=(PO,)), [])

    assert len({with_order, without_order, no_history}) == 3


def test_charts_with_nothing_to_show_still_render() -> None:
    quiet = stockout_forecast(sku="WID-1002", name="Idle part", today=TODAY, daily_sales=[],
                              on_hand=5, available=5)  # fmt: skip

    assert forecast_chart(quiet, []).startswith(PNG_SIGNATURE)
    assert ageing_chart(Ageing(TODAY, ())).startswith(PNG_SIGNATURE)


def test_eight_renders_from_eight_threads_match_the_ones_drawn_alone() -> None:
    # The forecast is made first: only the drawing runs in the threads.
    forecast, history = _forecast(incoming=(PO,)), _history()
    alone = {"forecast": forecast_chart(forecast, history), "ageing": ageing_chart(AGEING)}
    kinds = ["forecast", "ageing"] * 4

    def draw(kind: str) -> bytes:
        return forecast_chart(forecast, history) if kind == "forecast" else ageing_chart(AGEING)

    with ThreadPoolExecutor(max_workers=8) as pool:
        drawn = list(pool.map(draw, kinds))

    assert [png == alone[kind] for kind, png in zip(kinds, drawn, strict=True)] == [True] * 8


def test_the_stock_line_falls_at_the_demand_and_steps_up_when_an_order_arrives() -> None:
    five_a_day = stockout_forecast(sku="T-1", name="t", today=TODAY, daily_sales=[5] * 56,
                                   on_hand=50, available=50, reorder_point=10)  # fmt: skip
    assert stock_path(five_a_day, 28) == [(0.0, 50.0), (10.0, 0.0), (28.0, 0.0)]

    refilled = stockout_forecast(sku="T-1", name="t", today=TODAY, daily_sales=[5] * 56,
                                 on_hand=50, available=50, reorder_point=10,
                                 incoming=(IncomingSupply("PO-1", 50, TODAY + timedelta(days=5)),
                                           IncomingSupply("PO-2", 99, None)))  # fmt: skip
    # Due on day 5: in at its start (time 4), as erp.forecast.days_of_cover counts it.
    assert stock_path(refilled, 28) == [
        (0.0, 50.0), (4.0, 30.0), (4.0, 80.0), (20.0, 0.0), (28.0, 0.0),
    ]  # fmt: skip
    assert refilled.days_of_cover == Decimal("20.0")


def test_chart_message_is_the_payload_the_gateway_reads() -> None:
    png = _ageing_png()

    custom = chart_message("  Receivables\nageing ", "Most is current.", png)

    assert custom is not None
    assert custom["chart"]["title"] == "Receivables ageing"
    assert custom["chart"]["alt"] == "Most is current."
    assert base64.b64decode(custom["chart"]["png"], validate=True) == png
    long = chart_message("t" * 500, "a" * 5000, png)
    assert long is not None
    assert len(long["chart"]["title"]) == MAX_TITLE_CHARS
    assert len(long["chart"]["alt"]) == MAX_ALT_CHARS
    untitled_alt = chart_message("Ageing", " ", png)
    assert untitled_alt is not None and untitled_alt["chart"]["alt"] == "Ageing"


def test_a_chart_over_the_size_cap_is_not_sent_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    huge = PNG_SIGNATURE + bytes(MAX_ENCODED_CHARS)
    dispatcher = CollectingDispatcher()

    with caplog.at_level(logging.WARNING, logger="actions.charts"):
        assert chart_message("Huge", "too big", huge) is None
        assert utter_chart(dispatcher, title="Huge", alt="too big", png=huge) is False

    assert dispatcher.messages == []
    assert "chart 'Huge' not sent" in caplog.text


@pytest.mark.parametrize(
    ("title", "png", "reason"),
    [(" ", PNG_SIGNATURE + b"x", "title must not be blank"),
     ("Chart", b"GIF89a", "png must start with the PNG signature")],
    ids=["blank-title", "not-a-png"],
)  # fmt: skip
def test_a_chart_without_a_title_or_not_a_png_is_a_mistake(
    title: str, png: bytes, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        chart_message(title, "alt", png)


def test_utter_chart_sends_one_reply_with_the_payload() -> None:
    dispatcher = CollectingDispatcher()
    png = _ageing_png()

    assert utter_chart(dispatcher, title="Receivables ageing", alt="Most is current.", png=png)

    [message] = dispatcher.messages
    assert message["custom"] == chart_message("Receivables ageing", "Most is current.", png)
    assert message["text"] is None
