"""How facts read in a reply: money, dates and order statuses."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

CURRENCY_SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$"}

ORDER_STATUS_TEXT = {
    "pending": "pending: we have received it and will confirm it shortly",
    "confirmed": "confirmed and waiting to be picked in the warehouse",
    "picking": "being picked and packed in the warehouse",
    "shipped": "shipped and on its way",
    "delivered": "delivered",
    "cancelled": "cancelled",
    "on_hold": "on hold; a colleague will contact you about it",
}


def money(amount: Decimal | float | int, currency: str | None) -> str:
    """`money(Decimal("1234.5"), "EUR")` -> "€1,234.50"; unknown currencies keep their code."""
    text = f"{Decimal(amount):,.2f}"
    if not currency:
        return text
    symbol = CURRENCY_SYMBOLS.get(currency.upper())
    return f"{symbol}{text}" if symbol else f"{text} {currency.upper()}"


def day(value: date | datetime) -> str:
    """`day(date(2026, 11, 3))` -> "3 Nov 2026"."""
    return f"{value.day} {value:%b %Y}"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"
