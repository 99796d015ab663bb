"""The message catalogue: every message in every language, with the same placeholders."""

from __future__ import annotations

import asyncio
import string

import pytest

from i18n.languages import LANGUAGES
from i18n.texts import MissingMessage, current_language, messages, say, speaking


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("key", sorted(messages()))
def test_every_message_has_every_language_with_the_same_placeholders(key: str) -> None:
    versions = messages()[key]
    assert set(versions) == set(LANGUAGES), key
    english = _fields(versions["en"])
    for language, template in versions.items():
        assert _fields(template) == english, (key, language)
        assert template.strip() == template or key.startswith(
            ("word.", "verify.locked_record", "hours.list_separator")
        )


def test_say_fills_the_placeholders_in_the_language_asked_or_spoken() -> None:
    assert say("record.no_such", "en", label="order", number="SO-1") == (
        "There is no order SO-1 in the ERP."
    )
    with speaking("zh"):
        assert say("record.no_such", label="订单", number="SO-1") == "ERP 中没有订单 SO-1。"
        assert say("record.no_such", "en", label="order", number="SO-1").startswith("There")
    assert current_language() == "en"


def test_an_unknown_key_is_an_error_naming_it() -> None:
    with pytest.raises(MissingMessage, match="no.such.key"):
        say("no.such.key")


async def test_each_concurrent_request_keeps_its_own_language() -> None:
    async def answer(language: str) -> list[str]:
        seen = []
        with speaking(language):  # type: ignore[arg-type]
            for _ in range(5):
                await asyncio.sleep(0)
                seen.append(current_language())
        return seen

    results = await asyncio.gather(*(answer("zh" if i % 2 else "en") for i in range(20)))
    for i, seen in enumerate(results):
        assert seen == ["zh" if i % 2 else "en"] * 5
