"""The language of the gateway's own sentences: the message's, else the conversation's."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.language import language_from


def entry(role: str, text: str | None) -> Any:
    return {"role": role, "text": text, "buttons": [], "image": None, "at": 0.0}


@pytest.mark.parametrize(
    ("text", "history", "hint", "language"),
    [
        ("我要投诉", [entry("bot", "Hi! I can check an order.")], None, "zh"),
        ("where is it", [entry("user", "你好")], "zh", "en"),
        ("SO-100123", [entry("user", "你好"), entry("bot", "您好！")], None, "zh"),
        # The assistant's last reply honours "please answer in English" written in Chinese.
        (
            "SO-100123",
            [entry("user", "请用英文回答"), entry("bot", "Sure, in English.")],
            None,
            "en",
        ),
        # The gateway's own system lines and agents' replies are not evidence.
        ("/request_human", [entry("user", "你好"), entry("system", "alice joined")], None, "zh"),
        ("/request_human", [entry("agent", "Hello")], "zh-CN", "zh"),
        ("12345", [], "fr", "en"),
        ("12345", [entry("bot", None)], None, "en"),
    ],
)
def test_the_gateway_writes_in_the_language_of_the_message_or_the_conversation(
    text: str, history: list, hint: Any, language: str
) -> None:
    assert language_from(text, history, hint) == language
