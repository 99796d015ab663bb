"""The currencies people and the generator name, read as ISO codes: by symbol ("£", "¥") and
by word, in English and Chinese ("quid", "euros", "英镑", "人民币"). The handoff triggers read
amounts in customers' messages with it, the generator's guard the amounts in its answers.
"¥" is read as CNY (it is also the yen sign; a Japanese customer would write 日元)."""

from __future__ import annotations

SYMBOL_CODES = {"£": "GBP", "€": "EUR", "$": "USD", "¥": "CNY"}
WORD_CODES = {
    "gbp": "GBP", "pound": "GBP", "pounds": "GBP", "quid": "GBP", "英镑": "GBP", "镑": "GBP",
    "eur": "EUR", "euro": "EUR", "euros": "EUR", "欧元": "EUR",
    "usd": "USD", "dollar": "USD", "dollars": "USD", "美元": "USD", "美金": "USD",
    "cny": "CNY", "rmb": "CNY", "人民币": "CNY", "元": "CNY", "块": "CNY", "块钱": "CNY",
}  # fmt: skip


def currency_code(token: str) -> str:
    """The ISO code of a currency symbol or word (any case).

    Raises:
        KeyError: If ``token`` names no currency known here.

    Example:
        >>> currency_code("Euros"), currency_code("¥"), currency_code("英镑")
        ('EUR', 'CNY', 'GBP')
    """
    return SYMBOL_CODES.get(token) or WORD_CODES[token.lower()]
