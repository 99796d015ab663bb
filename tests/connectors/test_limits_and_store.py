"""The per-sender rate limiter, the gateway's SQLite store and the text helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.errors import SettingsError
from connectors.messages import Button, OutgoingMessage
from connectors.ratelimit import RateLimiter
from connectors.render import Link, chunks, plain_with_urls, split_links
from connectors.settings import GatewaySettings, SlackSettings, TelegramSettings
from connectors.store import GatewayStore


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)

    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a") == pytest.approx(1.0)
    assert limiter.acquire("b") == 0.0
    clock.now = 1.0
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") > 0


def test_limiter_forgets_refilled_senders_when_full() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=1, clock=clock, max_senders=2)
    limiter.acquire("a")
    limiter.acquire("b")
    clock.now = 10.0

    assert limiter.acquire("c") == 0.0
    assert len(limiter._buckets) == 1


async def test_transcript_survives_reopening_and_keeps_order(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    store = GatewayStore(path)
    await store.append_user("web:a", "help")
    await store.append_bot(
        "web:a", [OutgoingMessage(text="I can help", buttons=[Button("Order", "/o")])]
    )
    await store.append_user("web:b", "other conversation")
    store.close()

    reopened = GatewayStore(path)
    history = await reopened.history("web:a")

    assert [(e["role"], e["text"]) for e in history] == [("user", "help"), ("bot", "I can help")]
    assert history[1]["buttons"] == [{"title": "Order", "payload": "/o"}]
    assert await reopened.button_title("web:a", "/o") == "Order"
    assert await reopened.button_title("web:a", "/unknown") is None


async def test_history_is_limited_to_the_latest_entries() -> None:
    store = GatewayStore(":memory:")
    for index in range(5):
        await store.append_user("c", str(index))

    assert [e["text"] for e in await store.history("c", limit=2)] == ["3", "4"]


async def test_short_keys_are_stable_and_expand_to_the_payload() -> None:
    store = GatewayStore(":memory:")
    payload = '/inform{"order_number": "SO-100123", "note": "' + "é" * 100 + '"}'

    key = await store.shorten(payload)

    assert key == await store.shorten(payload)
    assert len(key.encode()) <= 64
    assert await store.expand(key) == payload
    assert await store.expand("k:unknown") is None


def test_links_are_found_in_markdown_and_bare_form() -> None:
    text = "See [Returns](https://nb.example/r) or https://nb.example/x."

    assert split_links(text) == [
        "See ",
        Link("https://nb.example/r", "Returns"),
        " or ",
        Link("https://nb.example/x", "https://nb.example/x"),
        ".",
    ]
    assert plain_with_urls(text) == "See Returns (https://nb.example/r) or https://nb.example/x."


def test_long_text_is_split_at_line_then_word_breaks() -> None:
    assert chunks("aaa bbb\nccc", 8) == ["aaa bbb", "ccc"]
    assert chunks("aaaa bbbb", 6) == ["aaaa", "bbbb"]
    assert chunks("x" * 10, 4) == ["xxxx", "xxxx", "xx"]


def test_channel_settings_from_the_environment() -> None:
    settings = GatewaySettings.from_env({
        "TELEGRAM_BOT_TOKEN": "1:T", "TELEGRAM_WEBHOOK_SECRET": "s-1",
        "TELEGRAM_WEBHOOK_URL": "https://bot.nb.example/telegram/webhook",
        "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "sig",
        "SLACK_STAFF_USER_IDS": "U1, T1:U2", "GATEWAY_DB": "/tmp/g.db",
        "RATE_LIMIT_PER_MINUTE": "10", "RATE_LIMIT_BURST": "5",
        "WIDGET_ORIGINS": "https://nb.example,https://shop.nb.example",
    })  # fmt: skip

    assert settings.telegram == TelegramSettings(
        bot_token="1:T",
        webhook_secret="s-1",
        webhook_url="https://bot.nb.example/telegram/webhook",
    )
    assert settings.slack == SlackSettings(
        bot_token="xoxb-1", signing_secret="sig", staff_user_ids=frozenset({"U1", "T1:U2"})
    )
    assert (settings.gateway_db, settings.rate_limit_per_minute, settings.rate_limit_burst) == (
        "/tmp/g.db", 10, 5,
    )  # fmt: skip
    assert settings.widget_origins == ("https://nb.example", "https://shop.nb.example")
    assert settings.telegram.disabled_reason() is None
    assert settings.slack.disabled_reason() is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TELEGRAM_MODE": "push"}, "TELEGRAM_MODE must be webhook or polling, got 'push'"),
        ({"TELEGRAM_WEBHOOK_URL": "http://x"}, "TELEGRAM_WEBHOOK_URL must start with https://"),
        ({"TELEGRAM_WEBHOOK_SECRET": "has space"}, "TELEGRAM_WEBHOOK_SECRET must be 1-256"),
        ({"RATE_LIMIT_BURST": "0"}, "RATE_LIMIT_BURST must be at least 1, got 0"),
    ],
    ids=["bad-mode", "plain-http-webhook", "bad-secret", "zero-burst"],
)
def test_bad_channel_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        GatewaySettings.from_env(env)


def test_slack_without_signing_secret_is_disabled() -> None:
    assert SlackSettings(bot_token="xoxb").disabled_reason() == "SLACK_SIGNING_SECRET not set"
