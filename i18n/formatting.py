"""Dates, money and counts as a reader of each language expects them.

English: "3 Nov 2026", "€1,234.50", "3 days". Chinese: "2026年11月3日", "€1,234.50" (the
currency's symbol before the amount, as Chinese invoices write euros and pounds; yuan as ¥),
"3天".

Example:
    >>> day(date(2026, 11, 3), "zh")
    '2026年11月3日'
    >>> money(Decimal("1234.5"), "EUR", "zh")
    '€1,234.50'
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from i18n.languages import Language

CURRENCY_SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$"}
# Chinese text writes yuan with its own symbol; other codes get their name after the amount.
_SYMBOLS_ZH = {**CURRENCY_SYMBOLS, "CNY": "¥"}
_CURRENCY_NAMES_ZH = {"HKD": "港元", "JPY": "日元", "CHF": "瑞士法郎"}


def money(value: Decimal | float | int, currency: str | None, language: Language = "en") -> str:
    """Money as a customer reads it: ``money(Decimal("1234.5"), "EUR")`` -> ``"€1,234.50"``.

    Unknown currencies keep their code after the number; no currency, just the number.
    """
    text = f"{Decimal(value):,.2f}"
    if not currency:
        return text
    code = currency.upper()
    symbol = (_SYMBOLS_ZH if language == "zh" else CURRENCY_SYMBOLS).get(code)
    if symbol:
        return f"{symbol}{text}"
    if language == "zh" and code in _CURRENCY_NAMES_ZH:
        return f"{text}{_CURRENCY_NAMES_ZH[code]}"
    return f"{text} {code}"


def day(value: date | datetime, language: Language = "en", *, year: bool = True) -> str:
    """A date as a customer reads it: "3 Nov 2026", or "2026年11月3日" in Chinese; without
    the year ("3 Nov", "11月3日") for a day within the week ahead."""
    if language == "zh":
        return f"{value.year}年" * year + f"{value.month}月{value.day}日"
    return f"{value.day} {value:%b %Y}" if year else f"{value.day} {value:%b}"


def count(number: int, word: str, language: Language = "en", *, measure: str = "") -> str:
    """``count(3, "day")`` -> "3 days"; in Chinese the measure word: ``count(3, "", "zh",
    measure="天")`` -> "3天"."""
    if language == "zh":
        return f"{number}{measure}"
    return f"{number} {word}" if number == 1 else f"{number} {word}s"


def listing(parts: list[str], language: Language = "en") -> str:
    """ "a, b and c", or "a、b和c" in Chinese."""
    if len(parts) <= 1:
        return "".join(parts)
    if language == "zh":
        return "、".join(parts[:-1]) + "和" + parts[-1]
    return ", ".join(parts[:-1]) + " and " + parts[-1]
