"""The per-client rate limiter, the gateway's SQLite store, settings and the text helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.errors import RateLimited
from connectors.messages import Button, IncomingMessage, OutgoingMessage
from connectors.ratelimit import RateLimiter
from connectors.render import Link, chunks, plain_with_urls, split_links
from connectors.settings import ApiKey, GatewaySettings, SlackSettings, TelegramSettings
from connectors.store import GatewayStore
from connectors.turns import Turns
from envvars import SettingsError
from tests.connectors.fakes import FakeRasa


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


async def test_turns_are_limited_per_client_whatever_conversation_they_name(
    gateway_db: str,
) -> None:
    turns = Turns(
        store=GatewayStore(gateway_db), limiter=RateLimiter(per_minute=1, burst=2), max_chars=100
    )
    turns.rasa = rasa = FakeRasa()

    for conversation in ("rest:local:a", "rest:local:b"):
        await turns.handle(IncomingMessage(conversation, "rest", "hi", client="ip:203.0.113.7"))
    with pytest.raises(RateLimited):
        await turns.handle(IncomingMessage("rest:local:c", "rest", "hi", client="ip:203.0.113.7"))
    await turns.handle(IncomingMessage("rest:local:c", "rest", "hi", client="ip:203.0.113.8"))

    assert [m.sender_id for m in rasa.received] == ["rest:local:a", "rest:local:b", "rest:local:c"]


async def test_web_session_generations_move_only_on_a_new_verification(tmp_path: Path) -> None:
    store = GatewayStore(tmp_path / "gateway.db")

    assert await store.session_generation("k1") == 0
    assert await store.rotate_on_verification("k1", None) is None
    assert await store.rotate_on_verification("k1", "customer-42") == 1
    assert await store.rotate_on_verification("k1", "customer-42") is None
    assert await store.rotate_on_verification("k1", None) is None  # the verification expired
    assert await store.rotate_on_verification("k1", "customer-42") == 2
    assert await store.rotate_on_verification("k1", "customer-7") == 3
    assert await store.session_generation("k2") == 0
    store.close()

    assert await GatewayStore(tmp_path / "gateway.db").session_generation("k1") == 3


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


async def test_history_is_limited_to_the_latest_entries(gateway_db: str) -> None:
    store = GatewayStore(gateway_db)
    for index in range(5):
        await store.append_user("c", str(index))

    assert [e["text"] for e in await store.history("c", limit=2)] == ["3", "4"]


async def test_short_keys_are_stable_and_expand_to_the_payload(gateway_db: str) -> None:
    store = GatewayStore(gateway_db)
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


def test_security_settings_from_the_environment() -> None:
    settings = GatewaySettings.from_env({
        "GATEWAY_API_KEYS": "shop:shop-secret-0123456789, crm.v2:crm-secret-0123456789",
        "WEB_SESSION_SECRET": "w" * 32, "WEB_SESSION_DAYS": "1.5",
    })  # fmt: skip

    assert settings.api_keys == (
        ApiKey("shop", "shop-secret-0123456789"),
        ApiKey("crm.v2", "crm-secret-0123456789"),
    )
    assert (settings.web_session_secret, settings.web_session_days) == ("w" * 32, 1.5)
    # Secrets stay out of reprs (and so out of logged settings).
    assert "shop-secret" not in repr(settings) and "w" * 32 not in repr(settings)


def test_security_defaults_are_closed() -> None:
    defaults = GatewaySettings.from_env({})

    assert defaults.widget_origins == ()  # the gateway's own origin only
    assert defaults.api_keys == ()  # REST from loopback only
    assert defaults.web_session_days == 7.0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TELEGRAM_MODE": "push"}, "TELEGRAM_MODE must be webhook or polling, got 'push'"),
        ({"TELEGRAM_WEBHOOK_URL": "http://x"}, "TELEGRAM_WEBHOOK_URL must start with https://"),
        ({"TELEGRAM_WEBHOOK_SECRET": "has space"}, "TELEGRAM_WEBHOOK_SECRET must be 1-256"),
        ({"RATE_LIMIT_BURST": "0"}, "RATE_LIMIT_BURST must be at least 1, got 0"),
        ({"GATEWAY_API_KEYS": "no-colon"}, "GATEWAY_API_KEYS entries must be name:secret"),
        ({"GATEWAY_API_KEYS": "sh/op:" + "c" * 20}, "GATEWAY_API_KEYS entries must be name:secret"),
        ({"GATEWAY_API_KEYS": "shop:short"}, "entry 'shop': the secret must be at least 16"),
        ({"GATEWAY_API_KEYS": "local:" + "s" * 20}, "entry 'local': that name is reserved"),
        (
            {"GATEWAY_API_KEYS": f"a:{'s' * 20},b:{'s' * 20}"},
            "GATEWAY_API_KEYS entry 'b' repeats a name or a secret",
        ),
        ({"WEB_SESSION_SECRET": "short"}, "WEB_SESSION_SECRET must be at least 16 characters"),
        ({"WEB_SESSION_DAYS": "0"}, "WEB_SESSION_DAYS must be greater than 0, got 0"),
        ({"WEB_SESSION_DAYS": "a week"}, "WEB_SESSION_DAYS must be a number, got 'a week'"),
    ],
    ids=[
        "bad-mode",
        "plain-http-webhook",
        "bad-secret",
        "zero-burst",
        "key-without-secret",
        "key-name-with-slash",
        "short-key-secret",
        "reserved-key-name",
        "repeated-key-secret",
        "short-session-secret",
        "zero-session-days",
        "session-days-not-a-number",
    ],
)
def test_bad_channel_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        GatewaySettings.from_env(env)


def test_slack_without_signing_secret_is_disabled() -> None:
    assert SlackSettings(bot_token="xoxb").disabled_reason() == "SLACK_SIGNING_SECRET not set"
