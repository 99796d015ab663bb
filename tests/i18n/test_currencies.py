"""Currency symbols and words, in English and Chinese, read as ISO codes."""

from __future__ import annotations

import pytest

from i18n.currencies import currency_code


@pytest.mark.parametrize(
    ("token", "code"),
    [("£", "GBP"), ("Quid", "GBP"), ("英镑", "GBP"), ("€", "EUR"), ("EUROS", "EUR"),
     ("$", "USD"), ("美金", "USD"), ("¥", "CNY"), ("RMB", "CNY"), ("块钱", "CNY")],
)  # fmt: skip
def test_a_symbol_or_word_reads_as_its_code(token: str, code: str) -> None:
    assert currency_code(token) == code


@pytest.mark.parametrize("token", ["yen", "日元", "", "₿"])
def test_an_unknown_currency_is_a_key_error(token: str) -> None:
    with pytest.raises(KeyError):
        currency_code(token)
