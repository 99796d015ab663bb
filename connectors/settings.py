"""Gateway settings: every environment variable the gateway process reads (``python -m
connectors`` and its ``agents`` and ``db`` commands), declared once in ``GATEWAY`` and read
once at start, with safe local defaults. docs/configuration.md lists them."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from connectors.roles import READ_ROLES, WRITER, parse_roles
from envvars import (
    Parser,
    SettingsError,
    Variables,
    boolean,
    choice,
    integer,
    log_format,
    log_level,
    number,
    path,
    secret,
    url,
)

MIN_SECRET_CHARS = 16
_TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_API_KEY_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,20}")
_SLACK_CHANNEL = re.compile(r"[CGD][A-Z0-9]{2,20}")


# -- parsers for the gateway's own formats ------------------------------------------------------


def _items(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def _names() -> Parser[tuple[str, ...]]:
    """Comma-separated items; blanks between commas are ignored."""
    return Parser("comma-separated list", lambda raw: tuple(_items(raw)))


def _base_url(*schemes: str, slash: str = "") -> Parser[str]:
    """A URL starting with one of ``schemes``, its trailing slashes replaced by ``slash``."""
    checked = url(*schemes)
    return Parser(checked.kind, lambda raw: checked.parse(raw).rstrip("/") + slash)


def _private_url(said: str, *schemes: str) -> Parser[str]:
    """A URL starting with one of ``schemes`` (``said`` in messages); a bad one is not echoed:
    it may carry a password."""

    def parse(raw: str) -> str:
        if not raw.startswith(schemes):
            raise ValueError(f"must start with {said}")
        return raw

    return Parser(f"URL ({said})", parse)


def _prefix() -> Parser[str]:
    def parse(raw: str) -> str:
        if not raw.isalnum() or len(raw) > 40:
            raise ValueError(f"must be letters and digits (at most 40), got {raw!r}")
        return raw

    return Parser("letters and digits, at most 40", parse)


def _proxies() -> Parser[tuple[str, ...]]:
    """IP addresses or networks (``10.0.0.0/8``), comma-separated; neither ``*`` nor ``/0``."""

    def parse(raw: str) -> tuple[str, ...]:
        entries = _items(raw)
        for entry in entries:
            try:
                every = entry == "*" or ipaddress.ip_network(entry).prefixlen == 0
            except ValueError as error:
                # uvicorn would take it as a name that no peer address ever equals.
                raise ValueError(
                    f"must be IP addresses or networks (10.0.0.0/8), got {entry!r}: {error}"
                ) from None
            if every:
                raise ValueError(
                    f"must not be {entry!r}: any client could then choose its own address in "
                    "X-Forwarded-For, and the rate limits and the loopback-only REST API rely on it"
                )
        return tuple(entries)

    return Parser("comma-separated IP addresses or networks (not * or /0)", parse)


def _api_keys() -> Parser[tuple[ApiKey, ...]]:
    """``name:secret`` pairs, comma-separated; names and secrets unique."""

    def parse(raw: str) -> tuple[ApiKey, ...]:
        keys: list[ApiKey] = []
        for item in _items(raw):
            name, colon, secret = item.partition(":")
            name, secret = name.strip(), secret.strip()
            if not colon or not _API_KEY_NAME.fullmatch(name):
                raise ValueError(
                    "entries must be name:secret with a name of 1-64 characters "
                    f"A-Z, a-z, 0-9, '.', '_' or '-', got {name!r}"
                )
            if name == "local":
                raise ValueError("entry 'local': that name is reserved for loopback")
            if len(secret) < MIN_SECRET_CHARS:
                raise ValueError(
                    f"entry {name!r}: the secret must be at least {MIN_SECRET_CHARS} "
                    f"characters, got {len(secret)}"
                )
            if any(key.name == name or key.secret == secret for key in keys):
                raise ValueError(f"entry {name!r} repeats a name or a secret")
            keys.append(ApiKey(name, secret))
        return tuple(keys)

    return Parser(f"comma-separated name:secret (secrets of {MIN_SECRET_CHARS}+ characters)", parse)


def _staff_roles() -> Parser[dict[str, frozenset[str]]]:
    """``user=role+role`` pairs, comma-separated; a user listed twice gets both lists."""

    def parse(raw: str) -> dict[str, frozenset[str]]:
        roles: dict[str, frozenset[str]] = {}
        for item in _items(raw):
            user, equals, names = item.partition("=")
            user = user.strip()
            if not equals or not user:
                raise ValueError(f"entry {item!r} is not user=role (e.g. U0123ABC=finance)")
            roles[user] = roles.get(user, frozenset()) | parse_roles(names, where=user)
        return roles

    return Parser("comma-separated user=role+role", parse)


def _telegram_secret() -> Parser[str]:
    # Telegram's own rule for secret_token: 1-256 characters A-Z, a-z, 0-9, _ and -.
    def parse(raw: str) -> str:
        if not _TELEGRAM_SECRET.fullmatch(raw):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return raw

    return Parser("1-256 characters of A-Z, a-z, 0-9, _ and -", parse)


def _slack_channel() -> Parser[str]:
    def parse(raw: str) -> str:
        if not _SLACK_CHANNEL.fullmatch(raw):
            raise ValueError(f"must be a Slack channel id like C0123ABCD, got {raw!r}")
        return raw

    return Parser("Slack channel id (C0123ABCD)", parse)


def _slack_agents() -> Parser[tuple[tuple[str, str], ...]]:
    """``U123`` or ``U123=username``, comma-separated: (user, username) pairs."""

    def parse(raw: str) -> tuple[tuple[str, str], ...]:
        users: list[tuple[str, str]] = []
        for item in _items(raw):
            user, _, name = (piece.strip() for piece in item.partition("="))
            if not _SLACK_USER.fullmatch(user):
                raise ValueError(f"entries must be U123 or U123=username, got {item!r}")
            users.append((user, name))
        return tuple(users)

    return Parser("comma-separated U123 or U123=username", parse)


_HTTP = ("http://", "https://")
_POSTGRESQL = ("postgresql://", "postgresql+psycopg://")
_REDIS = _private_url("redis:// or rediss://", "redis://", "rediss://")

# -- the variables --------------------------------------------------------------------------------

GATEWAY = Variables(
    "gateway", "The gateway (python -m connectors): channels, handoff, agent console"
)

LOG_LEVEL = GATEWAY.add(
    "LOG_LEVEL", "INFO", "Level of the gateway's own log lines (others log at WARNING)",
    log_level(),
)  # fmt: skip
LOG_FORMAT = GATEWAY.add(
    "LOG_FORMAT", "text", "text: human lines; json: one JSON object a line, personal data redacted",
    log_format(),
)  # fmt: skip
RASA_URL = GATEWAY.add(
    "RASA_URL", "http://127.0.0.1:5005", "Rasa's HTTP API, where messages go", _base_url(*_HTTP)
)
RASA_TOKEN = GATEWAY.add(
    "RASA_TOKEN", "", "Bearer token of Rasa's gateway channel and its HTTP API (--auth-token)",
    secret=True,
)  # fmt: skip
RASA_TIMEOUT = GATEWAY.add(
    "RASA_TIMEOUT", 30.0, "Seconds a turn may wait for Rasa", number(0, low_open=True)
)
ACTION_SERVER_URL = GATEWAY.add(
    "ACTION_SERVER_URL", "http://127.0.0.1:5055",
    "The action server (its health, and the answer drafts streamed from it)", _base_url(*_HTTP),
)  # fmt: skip
GATEWAY_INTERNAL_TOKEN = GATEWAY.add(
    "GATEWAY_INTERNAL_TOKEN", "",
    "Shared with the action server by the launcher; answer drafts need it", secret=True,
)  # fmt: skip
HOST = GATEWAY.add(
    "HOST", "127.0.0.1",
    "Address the gateway listens on; loopback only (0.0.0.0 behind a TLS-terminating proxy)",
)  # fmt: skip
PORT = GATEWAY.add("PORT", 8080, "TCP port the gateway listens on", integer(1, 65535))
MAX_MESSAGE_CHARS = GATEWAY.add(
    "MAX_MESSAGE_CHARS", 2000, "Longest user message passed on, in characters", integer(1)
)
GATEWAY_DB = GATEWAY.add(
    "GATEWAY_DB", path().parse("var/gateway.db"),
    "SQLite file of the gateway's state (one gateway process; see GATEWAY_DATABASE_URL)", path(),
)  # fmt: skip
GATEWAY_DATABASE_URL = GATEWAY.add(
    "GATEWAY_DATABASE_URL", "",
    "PostgreSQL for the gateway's state, shared by its replicas (postgresql://user@host:port/db, "
    "the password apart); empty: the SQLite file GATEWAY_DB",
    _private_url("postgresql://", *_POSTGRESQL),
)  # fmt: skip
GATEWAY_DATABASE_PASSWORD = GATEWAY.add(
    "GATEWAY_DATABASE_PASSWORD", "", "Password of GATEWAY_DATABASE_URL's account", secret=True
)
RETRIEVAL_DOCS_DIR = GATEWAY.add(
    "RETRIEVAL_DOCS_DIR", path().parse("data/docs"),
    "The documents citations link to (served under /docs): the folder the index is built from",
    path(),
)  # fmt: skip
RATE_LIMIT_PER_MINUTE = GATEWAY.add(
    "RATE_LIMIT_PER_MINUTE", 60, "Messages a sender may send per minute", integer(1)
)
RATE_LIMIT_BURST = GATEWAY.add(
    "RATE_LIMIT_BURST", 20, "Messages a sender may send at once before the rate applies",
    integer(1),
)  # fmt: skip
RATE_LIMIT_REDIS_URL = GATEWAY.add(
    "RATE_LIMIT_REDIS_URL", "",
    "Redis for rate limits shared by every replica (redis://user@host:port/db, the password "
    "apart); empty: each process counts alone",
    _REDIS,
)  # fmt: skip
RATE_LIMIT_REDIS_PREFIX = GATEWAY.add(
    "RATE_LIMIT_REDIS_PREFIX", "erpassistant", "Prefix of the gateway's Redis keys", _prefix()
)
GATEWAY_REDIS_PASSWORD = GATEWAY.add(
    "GATEWAY_REDIS_PASSWORD", "",
    "Password of the gateway's Redis account (RATE_LIMIT_REDIS_URL, SOCKETIO_REDIS_URL)",
    secret=True,
)  # fmt: skip
SOCKETIO_REDIS_URL = GATEWAY.add(
    "SOCKETIO_REDIS_URL", "",
    "Redis through which replicas pass web chat messages and know the open windows (same "
    "account and prefix as the rate limits); empty: one process, in memory",
    _REDIS,
)  # fmt: skip
GATEWAY_TRANSCRIPT_DAYS = GATEWAY.add(
    "GATEWAY_TRANSCRIPT_DAYS", 90.0, "Days transcripts are kept; 0: for ever", number(0, 36_500)
)
GATEWAY_OUTBOX_DAYS = GATEWAY.add(
    "GATEWAY_OUTBOX_DAYS", 7.0, "Days delivered outbox rows are kept; 0: for ever",
    number(0, 36_500),
)  # fmt: skip
WIDGET_ORIGINS = GATEWAY.add(
    "WIDGET_ORIGINS", (),
    "Sites whose pages may open the web chat besides the gateway's own; * for any", _names(),
)  # fmt: skip
WEB_SESSION_SECRET = GATEWAY.add(
    "WEB_SESSION_SECRET", "",
    "Signs web chat session tokens; required with replicas (GATEWAY_DATABASE_URL or "
    "SOCKETIO_REDIS_URL)",
    secret(MIN_SECRET_CHARS), secret=True,
    shown_default="random per process (sessions end with it)",
)  # fmt: skip
VERIFICATION_SECRET = GATEWAY.add(
    "VERIFICATION_SECRET", "",
    "Key of the action server's signed verification records (the same value there); "
    "required with replicas",
    shown_default="random per process", secret=True,
)  # fmt: skip
WEB_SESSION_DAYS = GATEWAY.add(
    "WEB_SESSION_DAYS", 7.0, "Days a web chat session lasts", number(0, 366, low_open=True)
)
TRUSTED_PROXIES = GATEWAY.add(
    "TRUSTED_PROXIES", ("127.0.0.1", "::1"),
    "Where X-Forwarded-For is believed from (the address rate limits count and the "
    "loopback-only REST API checks); the default is the launcher's HAProxy",
    _proxies(), shown_default="127.0.0.1,::1",
)  # fmt: skip
GATEWAY_API_KEYS = GATEWAY.add(
    "GATEWAY_API_KEYS", (),
    "REST API clients (their conversations: rest:<name>:<sender>); none: REST answers "
    "loopback clients only",
    _api_keys(), secret=True,
)  # fmt: skip
METRICS_TOKEN = GATEWAY.add(
    "METRICS_TOKEN", "", "What a Prometheus scraper sends for /metrics; empty: /metrics is 404",
    secret(MIN_SECRET_CHARS), secret=True,
)  # fmt: skip
ANALYTICS_EVENTS_URL = GATEWAY.add(
    "ANALYTICS_EVENTS_URL", "",
    "Rasa's tracker store as the analytics page reads it (sqlite:///file or "
    "postgresql://user@host:port/db); empty: as Rasa is given it (RASA_TRACKER_*)",
    _private_url("sqlite:/// or postgresql://", "sqlite:///", *_POSTGRESQL),
)  # fmt: skip
ANALYTICS_EVENTS_PASSWORD = GATEWAY.add(
    "ANALYTICS_EVENTS_PASSWORD", "", "Password of ANALYTICS_EVENTS_URL's account", secret=True
)
RASA_TRACKER_PG_HOST = GATEWAY.add(
    "RASA_TRACKER_PG_HOST", "",
    "Rasa's tracker store on PostgreSQL, read by the analytics page without "
    "ANALYTICS_EVENTS_URL; empty: the SQLite file RASA_TRACKER_DB",
)  # fmt: skip
RASA_TRACKER_PG_PORT = GATEWAY.add(
    "RASA_TRACKER_PG_PORT", 5432, "Port of RASA_TRACKER_PG_HOST", integer(1, 65535)
)
RASA_TRACKER_PG_DB = GATEWAY.add("RASA_TRACKER_PG_DB", "", "Database of Rasa's tracker store")
RASA_TRACKER_PG_USER = GATEWAY.add("RASA_TRACKER_PG_USER", "", "Account of Rasa's tracker store")
RASA_TRACKER_PG_PASSWORD = GATEWAY.add(
    "RASA_TRACKER_PG_PASSWORD", "", "Password of RASA_TRACKER_PG_USER", secret=True
)
RASA_TRACKER_DB = GATEWAY.add(
    "RASA_TRACKER_DB", path().parse("var/rasa_tracker.db"),
    "Rasa's SQLite tracker store, read by the analytics page without ANALYTICS_EVENTS_URL or "
    "RASA_TRACKER_PG_HOST",
    path(),
)  # fmt: skip

TELEGRAM_BOT_TOKEN = GATEWAY.add(
    "TELEGRAM_BOT_TOKEN", "", "Telegram bot token; empty: no Telegram channel", secret=True
)
TELEGRAM_WEBHOOK_SECRET = GATEWAY.add(
    "TELEGRAM_WEBHOOK_SECRET", "",
    "What Telegram sends with each webhook call (required in webhook mode)",
    _telegram_secret(), secret=True,
)  # fmt: skip
TELEGRAM_WEBHOOK_URL = GATEWAY.add(
    "TELEGRAM_WEBHOOK_URL", "", "Registered with setWebhook at startup when set", url("https://")
)
TELEGRAM_MODE = GATEWAY.add(
    "TELEGRAM_MODE", "webhook",
    "webhook: Telegram POSTs to /telegram/webhook; polling: the gateway asks (no public URL)",
    choice("webhook", "polling", any_case=True),
)  # fmt: skip
TELEGRAM_API_URL = GATEWAY.add(
    "TELEGRAM_API_URL", "https://api.telegram.org", "Telegram's Bot API", _base_url(*_HTTP)
)
SLACK_BOT_TOKEN = GATEWAY.add(
    "SLACK_BOT_TOKEN", "", "Slack bot token; with SLACK_SIGNING_SECRET enables Slack", secret=True
)
SLACK_SIGNING_SECRET = GATEWAY.add(
    "SLACK_SIGNING_SECRET", "", "Checks that events come from Slack", secret=True
)
SLACK_API_URL = GATEWAY.add(
    "SLACK_API_URL", "https://slack.com/api/", "Slack's Web API", _base_url(*_HTTP, slash="/")
)
SLACK_STAFF_ROLES = GATEWAY.add(
    "SLACK_STAFF_ROLES", {},
    "Staff on Slack and their roles (U0123ABC=finance,U0456DEF=sales+writer); listed: staff",
    _staff_roles(), shown_default="(unset)",
)  # fmt: skip
SLACK_STAFF_USER_IDS = GATEWAY.add(
    "SLACK_STAFF_USER_IDS", (),
    "Slack staff who read every area but the audit trail (before SLACK_STAFF_ROLES)", _names(),
)  # fmt: skip
SLACK_STAFF_WRITER_IDS = GATEWAY.add(
    "SLACK_STAFF_WRITER_IDS", (),
    "As SLACK_STAFF_USER_IDS, and may also change orders for customers", _names(),
)  # fmt: skip

HANDOFF_ENABLED = GATEWAY.add(
    "HANDOFF_ENABLED", True, "Escalate conversations to human agents", boolean()
)
HANDOFF_BUSINESS_DAYS = GATEWAY.add(
    "HANDOFF_BUSINESS_DAYS", "Mon-Fri", "Days people work (Mon-Fri or Mon,Wed,Sat)"
)
HANDOFF_BUSINESS_HOURS = GATEWAY.add(
    "HANDOFF_BUSINESS_HOURS", "08:00-18:00", "Hours people work (08:00-18:00)"
)
HANDOFF_TIMEZONE = GATEWAY.add(
    "HANDOFF_TIMEZONE", "Europe/London", "Time zone of the business hours (IANA name)"
)
HANDOFF_HOLIDAYS = GATEWAY.add("HANDOFF_HOLIDAYS", "", "Days off (ISO dates, comma-separated)")
HANDOFF_FRUSTRATION_THRESHOLD = GATEWAY.add(
    "HANDOFF_FRUSTRATION_THRESHOLD", 0.65,
    "Escalate on one message scoring at least this frustrated", number(0, 1),
)  # fmt: skip
HANDOFF_FRUSTRATION_STREAK_THRESHOLD = GATEWAY.add(
    "HANDOFF_FRUSTRATION_STREAK_THRESHOLD", 0.5,
    "Escalate on two messages in a row both scoring at least this", number(0, 1),
)  # fmt: skip
HANDOFF_FRUSTRATION_DATA = GATEWAY.add(
    "HANDOFF_FRUSTRATION_DATA", path().parse("data/handoff/frustration.yml"),
    "Examples the frustration model is trained from", path(),
)  # fmt: skip
HANDOFF_FRUSTRATION_MODEL = GATEWAY.add(
    "HANDOFF_FRUSTRATION_MODEL", path().parse("var/handoff/frustration.joblib"),
    "The trained frustration model (retrained when missing or trained on other data)", path(),
)  # fmt: skip
HANDOFF_SENSITIVE_TOPICS = GATEWAY.add(
    "HANDOFF_SENSITIVE_TOPICS", path().parse("data/handoff/sensitive_topics.yml"),
    "Topics that go to a person at once", path(),
)  # fmt: skip
HANDOFF_SUMMARY = GATEWAY.add(
    "HANDOFF_SUMMARY", "generator",
    "extractive: the agent's summary from the messages alone; generator: plus one sentence "
    "from the generator",
    choice("extractive", "generator", any_case=True),
)  # fmt: skip
HANDOFF_RETRY_SECONDS = GATEWAY.add(
    "HANDOFF_RETRY_SECONDS", 2.0,
    "First wait before a failed delivery to a channel is retried (doubling up to a cap)",
    number(0, low_open=True),
)  # fmt: skip

AGENT_SESSION_IDLE_MINUTES = GATEWAY.add(
    "AGENT_SESSION_IDLE_MINUTES", 30.0, "An agent console session ends after this idle time",
    number(0, low_open=True),
)  # fmt: skip
AGENT_SESSION_MAX_HOURS = GATEWAY.add(
    "AGENT_SESSION_MAX_HOURS", 12.0, "An agent console session ends this long after login",
    number(0, low_open=True),
)  # fmt: skip
AGENT_ONLINE_MINUTES = GATEWAY.add(
    "AGENT_ONLINE_MINUTES", 5.0, "An agent counts as online this long after their last activity",
    number(0, low_open=True),
)  # fmt: skip
AGENT_LOGIN_MAX_FAILURES = GATEWAY.add(
    "AGENT_LOGIN_MAX_FAILURES", 5, "Failed logins per account and client before a pause",
    integer(1),
)  # fmt: skip
AGENT_LOGIN_ACCOUNT_MAX_FAILURES = GATEWAY.add(
    "AGENT_LOGIN_ACCOUNT_MAX_FAILURES", 10,
    "Failed logins per account from anywhere before a pause", integer(1),
)  # fmt: skip
AGENT_LOGIN_WINDOW_MINUTES = GATEWAY.add(
    "AGENT_LOGIN_WINDOW_MINUTES", 15.0, "The window failed logins are counted in",
    number(0, low_open=True),
)  # fmt: skip
AGENT_LOGIN_MAX_HASHING = GATEWAY.add(
    "AGENT_LOGIN_MAX_HASHING", 2, "Password checks at once; more logins get 503", integer(1)
)
AGENT_DEMO_PASSWORD = GATEWAY.add(
    "AGENT_DEMO_PASSWORD", "", "`make run` creates or refreshes the agent 'demo' with it",
    secret=True,
)  # fmt: skip
AGENT_PASSWORD = GATEWAY.add(
    "AGENT_PASSWORD", "",
    "The new password for `python -m connectors agents add|passwd`; empty: asked on the terminal",
    secret=True,
)  # fmt: skip
AGENT_CANNED_REPLIES = GATEWAY.add(
    "AGENT_CANNED_REPLIES", path().parse("data/handoff/canned_replies.yml"),
    "The console's default canned replies (YAML)", path(),
)  # fmt: skip
SLACK_AGENT_CHANNEL = GATEWAY.add(
    "SLACK_AGENT_CHANNEL", "",
    "Slack channel where agents take handoffs (its members are agents); empty: none",
    _slack_channel(),
)  # fmt: skip
SLACK_AGENT_USER_IDS = GATEWAY.add(
    "SLACK_AGENT_USER_IDS", (),
    "Only these Slack users act as agents (U123, or U123=console username); empty: every "
    "member of SLACK_AGENT_CHANNEL",
    _slack_agents(),
)  # fmt: skip


# -- the settings -------------------------------------------------------------------------------


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
    mode: str = TELEGRAM_MODE.default
    api_url: str = TELEGRAM_API_URL.default

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TelegramSettings:
        """The TELEGRAM_* variables of ``env``.

        Raises:
            SettingsError: a variable is set to a value that cannot be used.
        """
        return cls(
            bot_token=TELEGRAM_BOT_TOKEN.read(env),
            webhook_secret=TELEGRAM_WEBHOOK_SECRET.read(env),
            webhook_url=TELEGRAM_WEBHOOK_URL.read(env),
            mode=TELEGRAM_MODE.read(env),
            api_url=TELEGRAM_API_URL.read(env),
        )

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
    api_url: str = SLACK_API_URL.default
    # SLACK_STAFF_ROLES ``U0123ABC=finance,U0456DEF=sales+writer``: each staff member's
    # roles (connectors.roles). Being listed makes a user staff.
    staff_roles: dict[str, frozenset[str]] = field(default_factory=dict)
    # The shorter lists from before roles: staff who read every area but the audit trail
    # (READ_ROLES), and those who may also change orders for customers (plus writer).
    staff_user_ids: frozenset[str] = frozenset()
    staff_writer_ids: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SlackSettings:
        """The SLACK_* variables of ``env`` (but the agent channel's: AgentSettings).

        Raises:
            SettingsError: a variable is set to a value that cannot be used.
        """
        return cls(
            bot_token=SLACK_BOT_TOKEN.read(env),
            signing_secret=SLACK_SIGNING_SECRET.read(env),
            api_url=SLACK_API_URL.read(env),
            staff_roles=dict(SLACK_STAFF_ROLES.read(env)),
            staff_user_ids=frozenset(SLACK_STAFF_USER_IDS.read(env)),
            staff_writer_ids=frozenset(SLACK_STAFF_WRITER_IDS.read(env)),
        )

    def roles_of(self, *ids: str) -> frozenset[str]:
        """The roles of a Slack user known by any of ``ids`` (``U…`` or ``T…:U…``); none
        for a user who is not staff."""
        roles: set[str] = set()
        for user in ids:
            roles |= self.staff_roles.get(user, frozenset())
            if user in self.staff_user_ids or user in self.staff_writer_ids:
                roles |= READ_ROLES
            if user in self.staff_writer_ids:
                roles.add(WRITER)
        return frozenset(roles)

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
class HandoffSettings:
    """Human handoff: when people work, when the gateway escalates, where its data lives.

    ``frustration_threshold`` escalates on one message scoring at least that much;
    ``frustration_streak_threshold`` on two consecutive messages both scoring at least that.
    Hours default to the company's published support hours (Mon-Fri 08:00-18:00 UK time).
    """

    enabled: bool = HANDOFF_ENABLED.default
    business_days: str = HANDOFF_BUSINESS_DAYS.default
    business_hours: str = HANDOFF_BUSINESS_HOURS.default
    timezone: str = HANDOFF_TIMEZONE.default
    holidays: str = HANDOFF_HOLIDAYS.default
    frustration_threshold: float = HANDOFF_FRUSTRATION_THRESHOLD.default
    frustration_streak_threshold: float = HANDOFF_FRUSTRATION_STREAK_THRESHOLD.default
    frustration_data: str = str(HANDOFF_FRUSTRATION_DATA.default)
    frustration_model: str = str(HANDOFF_FRUSTRATION_MODEL.default)
    sensitive_topics: str = str(HANDOFF_SENSITIVE_TOPICS.default)
    summary: str = HANDOFF_SUMMARY.default
    retry_seconds: float = HANDOFF_RETRY_SECONDS.default

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> HandoffSettings:
        """The HANDOFF_* variables of ``env``; the business days, hours, time zone and
        holidays are checked together.

        Raises:
            SettingsError: a variable is set to a value that cannot be used.
        """
        from connectors.handoff.errors import InvalidHandoffInput
        from connectors.handoff.hours import BusinessHours

        settings = cls(
            enabled=HANDOFF_ENABLED.read(env),
            business_days=HANDOFF_BUSINESS_DAYS.read(env),
            business_hours=HANDOFF_BUSINESS_HOURS.read(env),
            timezone=HANDOFF_TIMEZONE.read(env),
            holidays=HANDOFF_HOLIDAYS.read(env),
            frustration_threshold=HANDOFF_FRUSTRATION_THRESHOLD.read(env),
            frustration_streak_threshold=HANDOFF_FRUSTRATION_STREAK_THRESHOLD.read(env),
            frustration_data=str(HANDOFF_FRUSTRATION_DATA.read(env)),
            frustration_model=str(HANDOFF_FRUSTRATION_MODEL.read(env)),
            sensitive_topics=str(HANDOFF_SENSITIVE_TOPICS.read(env)),
            summary=HANDOFF_SUMMARY.read(env),
            retry_seconds=HANDOFF_RETRY_SECONDS.read(env),
        )
        try:
            BusinessHours.parse(
                settings.business_days,
                settings.business_hours,
                settings.timezone,
                settings.holidays,
            )
        except InvalidHandoffInput as error:
            raise SettingsError(f"HANDOFF_BUSINESS_*: {error.reason}") from None
        return settings


@dataclass(frozen=True)
class ApiKey:
    """One REST API client: its conversations are ``rest:<name>:<sender id>``."""

    name: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class GatewaySettings:
    """Where Rasa and the action server live, and the gateway's own limits.

    Example:
        >>> GatewaySettings.from_env({"RASA_URL": "http://rasa:5005"}).rasa_url
        'http://rasa:5005'
    """

    rasa_url: str = RASA_URL.default
    action_server_url: str = ACTION_SERVER_URL.default
    # Loopback only: to expose the gateway set HOST=0.0.0.0, behind a TLS-terminating proxy.
    host: str = HOST.default
    port: int = PORT.default
    max_message_chars: int = MAX_MESSAGE_CHARS.default
    rasa_timeout: float = RASA_TIMEOUT.default
    gateway_db: str = str(GATEWAY_DB.default)
    # PostgreSQL for the gateway's state, shared by its replicas
    # (``postgresql://user@host:port/db``, its password apart: GATEWAY_DATABASE_PASSWORD);
    # empty: the SQLite file ``gateway_db`` (one gateway process).
    database_url: str = field(default="", repr=False)
    database_password: str = field(default="", repr=False)
    # The documents the citations link to: the folder the index is built from (retrieval's
    # RETRIEVAL_DOCS_DIR), so that a company's own documents are served where they are cited.
    docs_dir: str = str(RETRIEVAL_DOCS_DIR.default)
    rate_limit_per_minute: int = RATE_LIMIT_PER_MINUTE.default
    rate_limit_burst: int = RATE_LIMIT_BURST.default
    # Redis for rate limits shared by every gateway replica (the gateway's own account;
    # its password apart, GATEWAY_REDIS_PASSWORD); empty: each process counts alone.
    rate_limit_redis_url: str = field(default="", repr=False)
    rate_limit_redis_prefix: str = RATE_LIMIT_REDIS_PREFIX.default
    rate_limit_redis_password: str = field(default="", repr=False)
    # Redis through which the gateway's replicas pass web chat messages (Socket.IO's Redis
    # manager) and know which windows are connected; the same account and prefix as the
    # rate limits. Empty: one gateway process keeps them in memory.
    socketio_redis_url: str = field(default="", repr=False)
    # Days transcripts and delivered outbox rows are kept (connectors/retention.py); 0: ever.
    transcript_days: float = GATEWAY_TRANSCRIPT_DAYS.default
    outbox_days: float = GATEWAY_OUTBOX_DAYS.default
    # Sites whose pages may open the web chat besides the gateway's own; ``*`` for any.
    widget_origins: tuple[str, ...] = WIDGET_ORIGINS.default
    # Signs web chat session tokens; empty: a random key per process (sessions end with it).
    web_session_secret: str = field(default="", repr=False)
    web_session_days: float = WEB_SESSION_DAYS.default
    # Where X-Forwarded-For is believed from (addresses or networks): the client address it
    # names is the one rate limits count and the loopback-only REST API checks. The default
    # is the launcher's HAProxy on this machine; "*" is refused.
    trusted_proxies: tuple[str, ...] = TRUSTED_PROXIES.default
    # REST API clients; none: REST answers loopback clients only, as ``rest:local:…``.
    api_keys: tuple[ApiKey, ...] = ()
    # Shared with the action server by the launcher; answer drafts need it (streaming.py).
    internal_token: str = ""
    # RASA_TOKEN: the bearer token of Rasa's gateway channel and its HTTP API's --auth-token.
    rasa_token: str = field(default="", repr=False)
    # METRICS_TOKEN: what a Prometheus scraper sends for /metrics; empty: /metrics is 404.
    metrics_token: str = field(default="", repr=False)
    # Rasa's SQL tracker store, read (read-only) by the console's analytics page
    # (``sqlite:///file`` or ``postgresql://user@host:port/db``, the password apart).
    analytics_events_url: str = field(default=f"sqlite:///{RASA_TRACKER_DB.default}", repr=False)
    analytics_events_password: str = field(default="", repr=False)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    slack: SlackSettings = field(default_factory=SlackSettings)
    handoff: HandoffSettings = field(default_factory=HandoffSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GatewaySettings:
        """Build settings from ``environ`` (default ``os.environ``): the variables of
        ``GATEWAY`` (docs/configuration.md); unset or empty ones keep their defaults.

        Raises:
            SettingsError: a variable is set to a value that cannot be used.
        """
        env = os.environ if environ is None else environ
        events_url, events_password = _analytics_events(env)
        settings = cls(
            rasa_url=RASA_URL.read(env),
            action_server_url=ACTION_SERVER_URL.read(env),
            host=HOST.read(env),
            port=PORT.read(env),
            max_message_chars=MAX_MESSAGE_CHARS.read(env),
            rasa_timeout=RASA_TIMEOUT.read(env),
            gateway_db=str(GATEWAY_DB.read(env)),
            database_url=GATEWAY_DATABASE_URL.read(env),
            database_password=GATEWAY_DATABASE_PASSWORD.read(env),
            docs_dir=str(RETRIEVAL_DOCS_DIR.read(env)),
            rate_limit_per_minute=RATE_LIMIT_PER_MINUTE.read(env),
            rate_limit_burst=RATE_LIMIT_BURST.read(env),
            rate_limit_redis_url=RATE_LIMIT_REDIS_URL.read(env),
            rate_limit_redis_prefix=RATE_LIMIT_REDIS_PREFIX.read(env),
            rate_limit_redis_password=GATEWAY_REDIS_PASSWORD.read(env),
            socketio_redis_url=SOCKETIO_REDIS_URL.read(env),
            transcript_days=GATEWAY_TRANSCRIPT_DAYS.read(env),
            outbox_days=GATEWAY_OUTBOX_DAYS.read(env),
            widget_origins=WIDGET_ORIGINS.read(env),
            web_session_secret=WEB_SESSION_SECRET.read(env),
            web_session_days=WEB_SESSION_DAYS.read(env),
            # A list of nothing but commas means the default, not "no proxy".
            trusted_proxies=TRUSTED_PROXIES.read(env) or TRUSTED_PROXIES.default,
            api_keys=GATEWAY_API_KEYS.read(env),
            internal_token=GATEWAY_INTERNAL_TOKEN.read(env),
            rasa_token=RASA_TOKEN.read(env),
            metrics_token=METRICS_TOKEN.read(env),
            analytics_events_url=events_url,
            analytics_events_password=events_password,
            telegram=TelegramSettings.from_env(env),
            slack=SlackSettings.from_env(env),
            handoff=HandoffSettings.from_env(env),
        )
        if settings.database_url or settings.socketio_redis_url:
            # Replicas share state: a key of one process alone would make a session or a
            # verification opened on one replica unknown to the others.
            for variable in (WEB_SESSION_SECRET, VERIFICATION_SECRET):
                if not variable.present(env):
                    raise SettingsError(
                        f"{variable.name} must be set when GATEWAY_DATABASE_URL or "
                        "SOCKETIO_REDIS_URL is (every gateway replica must use the same one)"
                    )
        return settings


def _analytics_events(env: Mapping[str, str]) -> tuple[str, str]:
    """Where the analytics page reads Rasa's conversation events, and the password.

    ANALYTICS_EVENTS_URL with ANALYTICS_EVENTS_PASSWORD (PROFILE=production sets both: the
    gateway's own role, which may only read the trackers); unset, Rasa's own tracker store as
    it is given to Rasa: PostgreSQL from RASA_TRACKER_PG_* (a setup made without that role),
    else the SQLite file RASA_TRACKER_DB. Either way the page only ever reads it.
    """
    url = ANALYTICS_EVENTS_URL.read(env)
    if url:
        return url, ANALYTICS_EVENTS_PASSWORD.read(env)
    host = RASA_TRACKER_PG_HOST.read(env)
    if host:
        user = quote(RASA_TRACKER_PG_USER.read(env), safe="")
        port = RASA_TRACKER_PG_PORT.read(env)
        database = quote(RASA_TRACKER_PG_DB.read(env), safe="")
        return (
            f"postgresql://{user}@{host}:{port}/{database}",
            RASA_TRACKER_PG_PASSWORD.read(env),
        )
    return f"sqlite:///{RASA_TRACKER_DB.read(env)}", ""
