"""Dates, money and lists as each language writes them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from i18n.formatting import day, listing, money


def test_dates() -> None:
    assert day(date(2026, 11, 3)) == "3 Nov 2026"
    assert day(date(2026, 11, 3), "zh") == "2026年11月3日"
    assert day(datetime(2026, 1, 9, 15, 0), "zh") == "2026年1月9日"


def test_money() -> None:
    assert money(Decimal("1234.5"), "EUR") == "€1,234.50"
    assert money(Decimal("1234.5"), "EUR", "zh") == "€1,234.50"
    assert money(Decimal("1234.5"), "CNY", "zh") == "¥1,234.50"
    assert money(Decimal("1234.5"), "CNY") == "1,234.50 CNY"
    assert money(Decimal("10"), "JPY", "zh") == "10.00日元"
    assert money(Decimal("10"), "SEK", "zh") == "10.00 SEK"
    assert money(7, None, "zh") == "7.00"


def test_lists() -> None:
    assert listing(["a", "b", "c"]) == "a, b and c"
    assert listing(["曼彻斯特 3 件", "伦敦 2 件"], "zh") == "曼彻斯特 3 件和伦敦 2 件"
    assert listing(["a", "b", "c"], "zh") == "a、b和c"


def test_a_day_without_its_year() -> None:
    from datetime import date

    assert day(date(2026, 1, 8), "en", year=False) == "8 Jan"
    assert day(date(2026, 1, 8), "zh", year=False) == "1月8日"
    assert day(date(2026, 1, 8), "zh") == "2026年1月8日"
