"""Gateway settings, read from the environment with safe local defaults."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from connectors.errors import SettingsError
from connectors.roles import READ_ROLES, WRITER, parse_roles

_TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_API_KEY_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MIN_SECRET_CHARS = 16


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
    # SLACK_STAFF_ROLES ``U0123ABC=finance,U0456DEF=sales+writer``: each staff member's
    # roles (connectors.roles). Being listed makes a user staff.
    staff_roles: dict[str, frozenset[str]] = field(default_factory=dict)
    # The shorter lists from before roles: staff who read every area but the audit trail
    # (READ_ROLES), and those who may also change orders for customers (plus writer).
    staff_user_ids: frozenset[str] = frozenset()
    staff_writer_ids: frozenset[str] = frozenset()

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

    enabled: bool = True
    business_days: str = "Mon-Fri"
    business_hours: str = "08:00-18:00"
    timezone: str = "Europe/London"
    holidays: str = ""
    frustration_threshold: float = 0.65
    frustration_streak_threshold: float = 0.5
    frustration_data: str = "data/handoff/frustration.yml"
    frustration_model: str = "var/handoff/frustration.joblib"
    sensitive_topics: str = "data/handoff/sensitive_topics.yml"
    summary: str = "generator"
    retry_seconds: float = 2.0


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

    rasa_url: str = "http://127.0.0.1:5005"
    action_server_url: str = "http://127.0.0.1:5055"
    # Loopback only: to expose the gateway set HOST=0.0.0.0, behind a TLS-terminating proxy.
    host: str = "127.0.0.1"
    port: int = 8080
    max_message_chars: int = 2000
    rasa_timeout: float = 30.0
    gateway_db: str = "var/gateway.db"
    # PostgreSQL for the gateway's state, shared by its replicas
    # (``postgresql://user@host:port/db``, its password apart: GATEWAY_DATABASE_PASSWORD);
    # empty: the SQLite file ``gateway_db`` (one gateway process).
    database_url: str = field(default="", repr=False)
    database_password: str = field(default="", repr=False)
    # The documents the citations link to: the folder the index is built from (retrieval's
    # RETRIEVAL_DOCS_DIR), so that a company's own documents are served where they are cited.
    docs_dir: str = "data/docs"
    rate_limit_per_minute: int = 60
    rate_limit_burst: int = 20
    # Redis for rate limits shared by every gateway replica (the gateway's own account;
    # its password apart, GATEWAY_REDIS_PASSWORD); empty: each process counts alone.
    rate_limit_redis_url: str = field(default="", repr=False)
    rate_limit_redis_prefix: str = "erpassistant"
    rate_limit_redis_password: str = field(default="", repr=False)
    # Redis through which the gateway's replicas pass web chat messages (Socket.IO's Redis
    # manager) and know which windows are connected; the same account and prefix as the
    # rate limits. Empty: one gateway process keeps them in memory.
    socketio_redis_url: str = field(default="", repr=False)
    # Days transcripts and delivered outbox rows are kept (connectors/retention.py); 0: ever.
    transcript_days: float = 90.0
    outbox_days: float = 7.0
    # Sites whose pages may open the web chat besides the gateway's own; ``*`` for any.
    widget_origins: tuple[str, ...] = ()
    # Signs web chat session tokens; empty: a random key per process (sessions end with it).
    web_session_secret: str = field(default="", repr=False)
    web_session_days: float = 7.0
    # Where X-Forwarded-For is believed from (addresses or networks): the client address it
    # names is the one rate limits count and the loopback-only REST API checks. The default
    # is the launcher's HAProxy on this machine; "*" is refused.
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
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
    analytics_events_url: str = field(default="sqlite:///var/rasa_tracker.db", repr=False)
    analytics_events_password: str = field(default="", repr=False)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    slack: SlackSettings = field(default_factory=SlackSettings)
    handoff: HandoffSettings = field(default_factory=HandoffSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GatewaySettings:
        """Build settings from ``environ`` (default ``os.environ``).

        Reads RASA_URL, ACTION_SERVER_URL, HOST, PORT, MAX_MESSAGE_CHARS, RASA_TIMEOUT
        (seconds), GATEWAY_DB, GATEWAY_DATABASE_URL (``postgresql://user@host:port/db``),
        GATEWAY_DATABASE_PASSWORD, RETRIEVAL_DOCS_DIR, RATE_LIMIT_PER_MINUTE, RATE_LIMIT_BURST,
        RATE_LIMIT_REDIS_URL (``redis://user@host:port/db``), GATEWAY_REDIS_PASSWORD,
        RATE_LIMIT_REDIS_PREFIX (letters and digits), SOCKETIO_REDIS_URL,
        GATEWAY_TRANSCRIPT_DAYS and GATEWAY_OUTBOX_DAYS (days kept, 0: for ever), WIDGET_ORIGINS
        (comma-separated sites allowed besides the gateway's own, ``*`` for any),
        WEB_SESSION_SECRET (at least 16 characters), WEB_SESSION_DAYS, TRUSTED_PROXIES
        (comma-separated IP addresses or networks, ``10.0.0.0/8``, whose X-Forwarded-For is
        believed), GATEWAY_API_KEYS (``name:secret,...``), GATEWAY_INTERNAL_TOKEN, RASA_TOKEN,
        METRICS_TOKEN (at least 16 characters), ANALYTICS_EVENTS_URL and
        ANALYTICS_EVENTS_PASSWORD (``_analytics_events``), TELEGRAM_BOT_TOKEN,
        TELEGRAM_WEBHOOK_SECRET, TELEGRAM_WEBHOOK_URL, TELEGRAM_MODE, TELEGRAM_API_URL,
        SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_API_URL and SLACK_STAFF_USER_IDS
        (comma-separated Slack user ids), and the HANDOFF_* variables of ``_handoff``; unset
        or empty variables keep their defaults.

        Raises:
            SettingsError: a variable is set to a value that cannot be used.
        """
        env = os.environ if environ is None else environ
        defaults = cls()
        events_url, events_password = _analytics_events(env)
        settings = cls(
            rasa_url=_url(env, "RASA_URL", defaults.rasa_url),
            action_server_url=_url(env, "ACTION_SERVER_URL", defaults.action_server_url),
            host=env.get("HOST") or defaults.host,
            port=_int(env, "PORT", defaults.port, low=1, high=65535),
            max_message_chars=_int(env, "MAX_MESSAGE_CHARS", defaults.max_message_chars, low=1),
            rasa_timeout=_seconds(env, "RASA_TIMEOUT", defaults.rasa_timeout),
            gateway_db=env.get("GATEWAY_DB") or defaults.gateway_db,
            database_url=_database_url(env, "GATEWAY_DATABASE_URL"),
            database_password=(env.get("GATEWAY_DATABASE_PASSWORD") or "").strip(),
            docs_dir=env.get("RETRIEVAL_DOCS_DIR") or defaults.docs_dir,
            rate_limit_per_minute=_int(
                env, "RATE_LIMIT_PER_MINUTE", defaults.rate_limit_per_minute, low=1
            ),
            rate_limit_burst=_int(env, "RATE_LIMIT_BURST", defaults.rate_limit_burst, low=1),
            rate_limit_redis_url=_redis_url(env, "RATE_LIMIT_REDIS_URL"),
            rate_limit_redis_prefix=_prefix(
                env, "RATE_LIMIT_REDIS_PREFIX", defaults.rate_limit_redis_prefix
            ),
            rate_limit_redis_password=(env.get("GATEWAY_REDIS_PASSWORD") or "").strip(),
            socketio_redis_url=_redis_url(env, "SOCKETIO_REDIS_URL"),
            transcript_days=_keep_days(env, "GATEWAY_TRANSCRIPT_DAYS", defaults.transcript_days),
            outbox_days=_keep_days(env, "GATEWAY_OUTBOX_DAYS", defaults.outbox_days),
            widget_origins=tuple(_list(env, "WIDGET_ORIGINS")) or defaults.widget_origins,
            web_session_secret=_secret(env, "WEB_SESSION_SECRET"),
            web_session_days=_days(env, "WEB_SESSION_DAYS", defaults.web_session_days),
            trusted_proxies=_proxies(env, "TRUSTED_PROXIES") or defaults.trusted_proxies,
            api_keys=_api_keys(env),
            internal_token=(env.get("GATEWAY_INTERNAL_TOKEN") or "").strip(),
            rasa_token=(env.get("RASA_TOKEN") or "").strip(),
            metrics_token=_secret(env, "METRICS_TOKEN"),
            analytics_events_url=events_url,
            analytics_events_password=events_password,
            telegram=_telegram(env),
            slack=_slack(env),
            handoff=_handoff(env),
        )
        if settings.database_url or settings.socketio_redis_url:
            # Replicas share state: a key of one process alone would make a session or a
            # verification opened on one replica unknown to the others.
            for name in ("WEB_SESSION_SECRET", "VERIFICATION_SECRET"):
                if not (env.get(name) or "").strip():
                    raise SettingsError(
                        f"{name} must be set when GATEWAY_DATABASE_URL or SOCKETIO_REDIS_URL "
                        "is (every gateway replica must use the same one)"
                    )
        return settings


def _analytics_events(env: Mapping[str, str]) -> tuple[str, str]:
    """Where the analytics page reads Rasa's conversation events, and the password.

    ANALYTICS_EVENTS_URL (``sqlite:///file`` or ``postgresql://user@host:port/db``) with
    ANALYTICS_EVENTS_PASSWORD (PROFILE=production sets both: the gateway's own role, which may
    only read the trackers); unset, Rasa's own tracker store as it is given to Rasa:
    PostgreSQL from RASA_TRACKER_PG_* (a setup made without that role), else the SQLite file
    RASA_TRACKER_DB (var/rasa_tracker.db). Either way the page only ever reads it.
    """
    url = (env.get("ANALYTICS_EVENTS_URL") or "").strip()
    if url:
        if not url.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
            # Not echoed: the URL may carry a password.
            raise SettingsError("ANALYTICS_EVENTS_URL must start with sqlite:/// or postgresql://")
        return url, (env.get("ANALYTICS_EVENTS_PASSWORD") or "").strip()
    host = (env.get("RASA_TRACKER_PG_HOST") or "").strip()
    if host:
        user = quote(env.get("RASA_TRACKER_PG_USER") or "", safe="")
        port = (env.get("RASA_TRACKER_PG_PORT") or "5432").strip()
        database = quote(env.get("RASA_TRACKER_PG_DB") or "", safe="")
        return (
            f"postgresql://{user}@{host}:{port}/{database}",
            (env.get("RASA_TRACKER_PG_PASSWORD") or "").strip(),
        )
    return "sqlite:///" + (env.get("RASA_TRACKER_DB") or "var/rasa_tracker.db"), ""


def _secret(env: Mapping[str, str], name: str) -> str:
    value = (env.get(name) or "").strip()
    if value and len(value) < MIN_SECRET_CHARS:
        raise SettingsError(
            f"{name} must be at least {MIN_SECRET_CHARS} characters, got {len(value)}"
        )
    return value


def _days(env: Mapping[str, str], name: str, default: float) -> float:
    return _bounded(
        env, name, default, low=0.0, high=366.0, low_open=True,
        kind="a number of days", bounds="more than 0 and at most 366 days",
    )  # fmt: skip


def _proxies(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """IP addresses or networks (``10.0.0.0/8``), comma-separated; neither ``*`` nor ``/0``."""
    entries = _list(env, name)
    for entry in entries:
        try:
            every = entry == "*" or ipaddress.ip_network(entry).prefixlen == 0
        except ValueError as error:
            # uvicorn would take it as a name that no peer address ever equals.
            raise SettingsError(
                f"{name} must be IP addresses or networks (10.0.0.0/8), got {entry!r}: {error}"
            ) from None
        if every:
            raise SettingsError(
                f"{name} must not be {entry!r}: any client could then choose its own address "
                "in X-Forwarded-For, and the rate limits and the loopback-only REST API rely on it"
            )
    return tuple(entries)


def _api_keys(env: Mapping[str, str]) -> tuple[ApiKey, ...]:
    """GATEWAY_API_KEYS: ``name:secret`` pairs, comma-separated; names and secrets unique."""
    keys: list[ApiKey] = []
    for item in _list(env, "GATEWAY_API_KEYS"):
        name, colon, secret = item.partition(":")
        name, secret = name.strip(), secret.strip()
        if not colon or not _API_KEY_NAME.fullmatch(name):
            raise SettingsError(
                "GATEWAY_API_KEYS entries must be name:secret with a name of 1-64 characters "
                f"A-Z, a-z, 0-9, '.', '_' or '-', got {name!r}"
            )
        if name == "local":
            raise SettingsError("GATEWAY_API_KEYS: the name 'local' is reserved for loopback")
        if len(secret) < MIN_SECRET_CHARS:
            raise SettingsError(
                f"GATEWAY_API_KEYS: the secret of {name!r} must be at least "
                f"{MIN_SECRET_CHARS} characters, got {len(secret)}"
            )
        if any(key.name == name or key.secret == secret for key in keys):
            raise SettingsError(f"GATEWAY_API_KEYS: {name!r} repeats a name or a secret")
        keys.append(ApiKey(name, secret))
    return tuple(keys)


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
        staff_roles=_staff_roles(env, "SLACK_STAFF_ROLES"),
        staff_user_ids=frozenset(_list(env, "SLACK_STAFF_USER_IDS")),
        staff_writer_ids=frozenset(_list(env, "SLACK_STAFF_WRITER_IDS")),
    )


def _handoff(env: Mapping[str, str]) -> HandoffSettings:
    """HANDOFF_ENABLED (true/false), HANDOFF_BUSINESS_DAYS (``Mon-Fri``), HANDOFF_BUSINESS_HOURS
    (``08:00-18:00``), HANDOFF_TIMEZONE, HANDOFF_HOLIDAYS (ISO dates, comma-separated),
    HANDOFF_FRUSTRATION_THRESHOLD and HANDOFF_FRUSTRATION_STREAK_THRESHOLD (0-1),
    HANDOFF_FRUSTRATION_DATA, HANDOFF_FRUSTRATION_MODEL, HANDOFF_SENSITIVE_TOPICS (files),
    HANDOFF_SUMMARY (extractive or generator) and HANDOFF_RETRY_SECONDS."""
    from connectors.handoff.errors import InvalidHandoffInput
    from connectors.handoff.hours import BusinessHours

    defaults = HandoffSettings()
    enabled = (env.get("HANDOFF_ENABLED") or "true").strip().lower()
    if enabled not in ("true", "false", "1", "0", "yes", "no"):
        raise SettingsError(f"HANDOFF_ENABLED must be true or false, got {enabled!r}")
    summary = (env.get("HANDOFF_SUMMARY") or defaults.summary).strip().lower()
    if summary not in ("extractive", "generator"):
        raise SettingsError(f"HANDOFF_SUMMARY must be extractive or generator, got {summary!r}")
    settings = HandoffSettings(
        enabled=enabled in ("true", "1", "yes"),
        business_days=env.get("HANDOFF_BUSINESS_DAYS") or defaults.business_days,
        business_hours=env.get("HANDOFF_BUSINESS_HOURS") or defaults.business_hours,
        timezone=env.get("HANDOFF_TIMEZONE") or defaults.timezone,
        holidays=env.get("HANDOFF_HOLIDAYS") or defaults.holidays,
        frustration_threshold=_fraction(
            env, "HANDOFF_FRUSTRATION_THRESHOLD", defaults.frustration_threshold
        ),
        frustration_streak_threshold=_fraction(
            env, "HANDOFF_FRUSTRATION_STREAK_THRESHOLD", defaults.frustration_streak_threshold
        ),
        frustration_data=env.get("HANDOFF_FRUSTRATION_DATA") or defaults.frustration_data,
        frustration_model=env.get("HANDOFF_FRUSTRATION_MODEL") or defaults.frustration_model,
        sensitive_topics=env.get("HANDOFF_SENSITIVE_TOPICS") or defaults.sensitive_topics,
        summary=summary,
        retry_seconds=_seconds(env, "HANDOFF_RETRY_SECONDS", defaults.retry_seconds),
    )
    try:
        BusinessHours.parse(
            settings.business_days, settings.business_hours, settings.timezone, settings.holidays
        )
    except InvalidHandoffInput as error:
        raise SettingsError(f"HANDOFF_BUSINESS_*: {error.reason}") from None
    return settings


def _fraction(env: Mapping[str, str], name: str, default: float) -> float:
    return _bounded(
        env, name, default, low=0.0, high=1.0, kind="a number from 0 to 1", bounds="from 0 to 1"
    )


def _bounded(
    env: Mapping[str, str],
    name: str,
    default: float,
    *,
    low: float,
    high: float,
    kind: str,
    bounds: str,
    low_open: bool = False,
) -> float:
    """A number from ``low`` (excluded when ``low_open``) to ``high``; SettingsError if not."""
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be {kind}, got {raw!r}") from None
    if (value <= low if low_open else value < low) or value > high:
        raise SettingsError(f"{name} must be {bounds}, got {raw}")
    return value


def _keep_days(env: Mapping[str, str], name: str, default: float) -> float:
    return _bounded(
        env, name, default, low=0.0, high=36_500.0,
        kind="a number of days", bounds="from 0 (keep for ever) to 36500 days",
    )  # fmt: skip


def _list(env: Mapping[str, str], name: str) -> list[str]:
    return [item.strip() for item in (env.get(name) or "").split(",") if item.strip()]


def _staff_roles(env: Mapping[str, str], name: str) -> dict[str, frozenset[str]]:
    """``user=role+role`` pairs, comma-separated; a user listed twice gets both lists."""
    roles: dict[str, frozenset[str]] = {}
    for item in _list(env, name):
        user, equals, names = item.partition("=")
        user = user.strip()
        if not equals or not user:
            raise SettingsError(f"{name}: {item!r} is not user=role (e.g. U0123ABC=finance)")
        try:
            roles[user] = roles.get(user, frozenset()) | parse_roles(names, where=f"{name} {user}")
        except ValueError as error:
            raise SettingsError(str(error)) from None
    return roles


def _redis_url(env: Mapping[str, str], name: str) -> str:
    value = (env.get(name) or "").strip()
    if value and not value.startswith(("redis://", "rediss://")):
        # Not echoed: the URL may carry a password.
        raise SettingsError(f"{name} must start with redis:// or rediss://")
    return value


def _database_url(env: Mapping[str, str], name: str) -> str:
    value = (env.get(name) or "").strip()
    if value and not value.startswith(("postgresql://", "postgresql+psycopg://")):
        # Not echoed: the URL may carry a password.
        raise SettingsError(f"{name} must start with postgresql://")
    return value


def _prefix(env: Mapping[str, str], name: str, default: str) -> str:
    value = (env.get(name) or "").strip() or default
    if not value.isalnum() or len(value) > 40:
        raise SettingsError(f"{name} must be letters and digits (at most 40), got {value!r}")
    return value


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
