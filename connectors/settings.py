"""Gateway settings, read from the environment with safe local defaults."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from connectors.errors import SettingsError

_TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


@dataclass(frozen=True)
class TelegramSettings:
    """The Telegram channel: enabled by TELEGRAM_BOT_TOKEN (and, for webhooks, the secret).

    ``mode`` is ``webhook`` (Telegram POSTs to /telegram/webhook, checked against
    ``webhook_secret``) or ``polling`` (the gateway asks Telegram; for development without a
    public URL). ``webhook_url``, when set, is registered with setWebhook at startup.
    """

    bot_token: str = ""
    webhook_secret: str = ""
    webhook_url: str = ""
    mode: str = "webhook"
    api_url: str = "https://api.telegram.org"

    def disabled_reason(self) -> str | None:
        """Why the channel cannot run with these settings, or None when it can."""
        if not self.bot_token:
            return "TELEGRAM_BOT_TOKEN is not set"
        if self.mode == "webhook" and not self.webhook_secret:
            return "TELEGRAM_WEBHOOK_SECRET is not set (required in webhook mode)"
        return None


@dataclass(frozen=True)
class SlackSettings:
    """The Slack channel: enabled when both SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are set."""

    bot_token: str = ""
    signing_secret: str = ""
    api_url: str = "https://slack.com/api/"
    staff_user_ids: frozenset[str] = frozenset()

    def disabled_reason(self) -> str | None:
        """Why the channel cannot run with these settings, or None when it can."""
        missing = [
            name
            for name, value in (
                ("SLACK_BOT_TOKEN", self.bot_token),
                ("SLACK_SIGNING_SECRET", self.signing_secret),
            )
            if not value
        ]
        return f"{' and '.join(missing)} not set" if missing else None


@dataclass(frozen=True)
class GatewaySettings:
    """Where Rasa and the action server live, and the gateway's own limits.

    Example:
        >>> GatewaySettings.from_env({"RASA_URL": "http://rasa:5005"}).rasa_url
        'http://rasa:5005'
    """

    rasa_url: str = "http://127.0.0.1:5005"
    action_server_url: str = "http://127.0.0.1:5055"
    host: str = "0.0.0.0"
    port: int = 8080
    max_message_chars: int = 2000
    rasa_timeout: float = 30.0
    gateway_db: str = "var/gateway.db"
    docs_dir: str = "data/docs"
    rate_limit_per_minute: int = 60
    rate_limit_burst: int = 20
    widget_origins: tuple[str, ...] = ("*",)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    slack: SlackSettings = field(default_factory=SlackSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GatewaySettings:
        """Build settings from ``environ`` (default ``os.environ``).

        Reads RASA_URL, ACTION_SERVER_URL, HOST, PORT, MAX_MESSAGE_CHARS, RASA_TIMEOUT
        (seconds), GATEWAY_DB, DOCS_DIR, RATE_LIMIT_PER_MINUTE, RATE_LIMIT_BURST, WIDGET_ORIGINS
        (comma-separated, ``*`` for any site), TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET,
        TELEGRAM_WEBHOOK_URL, TELEGRAM_MODE, TELEGRAM_API_URL, SLACK_BOT_TOKEN,
        SLACK_SIGNING_SECRET, SLACK_API_URL and SLACK_STAFF_USER_IDS (comma-separated Slack
        user ids); unset or empty variables keep their defaults.

        Raises:
            SettingsError: a variable is set to a value that cannot be used.
        """
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            rasa_url=_url(env, "RASA_URL", defaults.rasa_url),
            action_server_url=_url(env, "ACTION_SERVER_URL", defaults.action_server_url),
            host=env.get("HOST") or defaults.host,
            port=_int(env, "PORT", defaults.port, low=1, high=65535),
            max_message_chars=_int(env, "MAX_MESSAGE_CHARS", defaults.max_message_chars, low=1),
            rasa_timeout=_seconds(env, "RASA_TIMEOUT", defaults.rasa_timeout),
            gateway_db=env.get("GATEWAY_DB") or defaults.gateway_db,
            docs_dir=env.get("DOCS_DIR") or defaults.docs_dir,
            rate_limit_per_minute=_int(
                env, "RATE_LIMIT_PER_MINUTE", defaults.rate_limit_per_minute, low=1
            ),
            rate_limit_burst=_int(env, "RATE_LIMIT_BURST", defaults.rate_limit_burst, low=1),
            widget_origins=tuple(_list(env, "WIDGET_ORIGINS")) or defaults.widget_origins,
            telegram=_telegram(env),
            slack=_slack(env),
        )


def _telegram(env: Mapping[str, str]) -> TelegramSettings:
    defaults = TelegramSettings()
    mode = (env.get("TELEGRAM_MODE") or defaults.mode).lower()
    if mode not in ("webhook", "polling"):
        raise SettingsError(f"TELEGRAM_MODE must be webhook or polling, got {mode!r}")
    webhook_url = env.get("TELEGRAM_WEBHOOK_URL") or ""
    if webhook_url and not webhook_url.startswith("https://"):
        raise SettingsError(f"TELEGRAM_WEBHOOK_URL must start with https://, got {webhook_url!r}")
    secret = env.get("TELEGRAM_WEBHOOK_SECRET") or ""
    # Telegram's own rule for secret_token: 1-256 characters A-Z, a-z, 0-9, _ and -.
    if secret and not _TELEGRAM_SECRET.fullmatch(secret):
        raise SettingsError(
            "TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -"
        )
    return TelegramSettings(
        bot_token=env.get("TELEGRAM_BOT_TOKEN") or "",
        webhook_secret=secret,
        webhook_url=webhook_url,
        mode=mode,
        api_url=_url(env, "TELEGRAM_API_URL", defaults.api_url),
    )


def _slack(env: Mapping[str, str]) -> SlackSettings:
    defaults = SlackSettings()
    return SlackSettings(
        bot_token=env.get("SLACK_BOT_TOKEN") or "",
        signing_secret=env.get("SLACK_SIGNING_SECRET") or "",
        api_url=_url(env, "SLACK_API_URL", defaults.api_url) + "/",
        staff_user_ids=frozenset(_list(env, "SLACK_STAFF_USER_IDS")),
    )


def _list(env: Mapping[str, str], name: str) -> list[str]:
    return [item.strip() for item in (env.get(name) or "").split(",") if item.strip()]


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name) or default
    if not value.startswith(("http://", "https://")):
        raise SettingsError(f"{name} must start with http:// or https://, got {value!r}")
    return value.rstrip("/")


def _int(
    env: Mapping[str, str], name: str, default: int, *, low: int, high: int | None = None
) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise SettingsError(f"{name} must be {bounds}, got {value}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value > 0 or value == float("inf"):
        raise SettingsError(f"{name} must be greater than 0, got {raw}")
    return value
