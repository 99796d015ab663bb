"""Language detection per message: Chinese, English, mixed, and messages of only ids."""

from __future__ import annotations

import pytest

from i18n.languages import as_language, detect_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("请问我的订单 SO-100123 状态如何？", "zh"),
        ("INV-200045付了吗", "zh"),
        ("WID-1001 有货吗", "zh"),
        ("我要找人工客服", "zh"),
        ("帮我check一下stock", "zh"),
        ("refund怎么申请", "zh"),
        ("好的", "zh"),
        ("where is my order SO-100123?", "en"),
        ("is WID-1001 in stock? 谢谢", "en"),
        ("please answer in English", "en"),
        ("ok", "en"),
        ("Bonjour, où est ma commande?", "en"),  # not supported: English answers
    ],
)
def test_each_message_is_detected_in_its_language(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize(
    "text",
    [
        "SO-100123",
        "ＳＯ－１００１２３",
        "M1 4BT",
        "jane@example.com",
        "12",
        "👍",
        "  ",
        "",
        "/request_human",
        "/csat 5",
        '/inform{"sku": "WID-1001"}',
    ],  # fmt: skip
)
def test_a_message_of_only_ids_numbers_or_emoji_is_neutral(text: str) -> None:
    assert detect_language(text) is None


def test_a_huge_or_odd_message_is_detected_quickly_and_never_raises() -> None:
    assert detect_language("订单" * 100_000) == "zh"
    assert detect_language("\ud800 \x00 order") == "en"


@pytest.mark.parametrize(
    ("value", "language"),
    [("zh", "zh"), ("zh-CN", "zh"), ("zh_Hans", "zh"), ("en-GB", "en"), ("EN", "en")],
)
def test_language_codes_of_browsers_and_telegram_are_read(value: str, language: str) -> None:
    assert as_language(value) == language


@pytest.mark.parametrize("value", ["fr", "", None, 7, ["zh"], "zzz"])
def test_other_values_name_no_supported_language(value: object) -> None:
    assert as_language(value) is None
