"""The action server's settings: every variable it reads, declared once, read once at start.

`python -m actions.server` reads them with `ActionServerSettings.from_env(os.environ)` and
hands them over with `use_settings`; code that runs during a turn asks `current_settings()`,
which never reads the environment again. Dependency-free, like envvars: docs/configuration.md
is generated from the declarations below (`python -m bot.configuration`).

Example:
    >>> settings = ActionServerSettings.from_env({"ALTERNATIVES_BUDGET_MS": "1500"})
    >>> settings.alternatives_budget, settings.host
    (1.5, '127.0.0.1')
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from envvars import ROOT, Variables, integer, log_format, log_level, number, path, secret

MIN_METRICS_TOKEN_CHARS = 16


ACTIONS = Variables("actions", "The action server (python -m actions.server)")

HOST = ACTIONS.add(
    "ACTION_SERVER_HOST", "127.0.0.1", "interface the action server listens on (--host wins)"
)
TOKEN = ACTIONS.add(
    "ACTION_SERVER_TOKEN",
    "",
    "bearer token Rasa sends (bot/endpoints.yml); the server does not start without it "
    "(`python -m bot run` generates it)",
    secret=True,
)
METRICS_TOKEN = ACTIONS.add(
    "METRICS_TOKEN",
    "",
    "bearer token a Prometheus scraper sends for /metrics; unset: /metrics is 404",
    secret(MIN_METRICS_TOKEN_CHARS),
    secret=True,
)
LOG_FORMAT = ACTIONS.add(
    "LOG_FORMAT", "text", "text: rasa-sdk's coloured lines; json: JSON lines", log_format()
)
LOG_LEVEL = ACTIONS.add("LOG_LEVEL", "INFO", "the action server's logging level", log_level())
STREAM_URL = ACTIONS.add(
    "GATEWAY_STREAM_URL",
    "",
    "where answer drafts are posted to the gateway (set by the launcher); unset: no drafts",
)
STREAM_TOKEN = ACTIONS.add(
    "GATEWAY_INTERNAL_TOKEN",
    "",
    "bearer token the gateway accepts drafts with (shared by the launcher); unset: no drafts",
    secret=True,
)
STATE_DB = ACTIONS.add(
    "ACTIONS_STATE_DB",
    ROOT / "var" / "actions-state.db",
    "SQLite file of the lockout counts (unless ACTIONS_STATE_DATABASE_URL is set)",
    path(),
)
LOCKOUT_RECORD_FAILURES = ACTIONS.add(
    "LOCKOUT_RECORD_FAILURES", 5, "wrong guesses at one record that lock it", integer(1)
)
LOCKOUT_RECORD_WINDOW_SECONDS = ACTIONS.add(
    "LOCKOUT_RECORD_WINDOW_SECONDS", 900, "seconds in which a record's guesses count", integer(1)
)
LOCKOUT_RECORD_SECONDS = ACTIONS.add(
    "LOCKOUT_RECORD_SECONDS", 900, "seconds a record stays locked", integer(1)
)
LOCKOUT_CLIENT_FAILURES = ACTIONS.add(
    "LOCKOUT_CLIENT_FAILURES", 10, "wrong guesses by one client that lock it out", integer(1)
)
LOCKOUT_CLIENT_WINDOW_SECONDS = ACTIONS.add(
    "LOCKOUT_CLIENT_WINDOW_SECONDS",
    3600,
    "seconds in which a client's guesses count",
    integer(1),
)
LOCKOUT_CLIENT_SECONDS = ACTIONS.add(
    "LOCKOUT_CLIENT_SECONDS", 3600, "seconds a client stays locked out", integer(1)
)
ANSWER_ERP_BUDGET_MS = ACTIONS.add(
    "ANSWER_ERP_BUDGET_MS",
    300.0,
    "an ERP answer's wait for generated wording, in ms; 0: templates only",
    number(0),
    shown_default="300",
)
ANSWER_DOC_WAIT_MS = ACTIONS.add(
    "ANSWER_DOC_WAIT_MS",
    500.0,
    "a document answer's wait for the model to be free, in ms",
    number(0),
    shown_default="500",
)
ANSWER_DOC_FIRST_SENTENCE_S = ACTIONS.add(
    "ANSWER_DOC_FIRST_SENTENCE_S",
    4.0,
    "a document answer's wait for its first generated sentence, in seconds",
    number(0),
    shown_default="4",
)
ALTERNATIVES_BUDGET_MS = ACTIONS.add(
    "ALTERNATIVES_BUDGET_MS",
    2000.0,
    "a stock answer's wait for similar products in stock, in ms",
    number(0),
    shown_default="2000",
)


@dataclass(frozen=True)
class Limit:
    """``failures`` within ``window_s`` seconds lock the key for ``lock_s`` seconds."""

    failures: int
    window_s: float
    lock_s: float


@dataclass(frozen=True)
class LockoutPolicy:
    """The limits per record (a number, an email) and per client (a person, an address)."""

    record: Limit
    client: Limit

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LockoutPolicy:
        """The policy from the ``LOCKOUT_*`` variables of ``env``.

        Raises:
            SettingsError: a value is not a whole number greater than 0.
        """
        return cls(
            record=Limit(
                LOCKOUT_RECORD_FAILURES.read(env),
                float(LOCKOUT_RECORD_WINDOW_SECONDS.read(env)),
                float(LOCKOUT_RECORD_SECONDS.read(env)),
            ),
            client=Limit(
                LOCKOUT_CLIENT_FAILURES.read(env),
                float(LOCKOUT_CLIENT_WINDOW_SECONDS.read(env)),
                float(LOCKOUT_CLIENT_SECONDS.read(env)),
            ),
        )


@dataclass(frozen=True)
class AnsweringSettings:
    """How long answers may wait for the generator (seconds)."""

    erp_budget: float = ANSWER_ERP_BUDGET_MS.default / 1000
    doc_wait: float = ANSWER_DOC_WAIT_MS.default / 1000
    doc_first_sentence: float = ANSWER_DOC_FIRST_SENTENCE_S.default

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AnsweringSettings:
        """The ``ANSWER_*`` variables of ``env``.

        Raises:
            SettingsError: a value is not a number of 0 or more.
        """
        return cls(
            erp_budget=ANSWER_ERP_BUDGET_MS.read(env) / 1000,
            doc_wait=ANSWER_DOC_WAIT_MS.read(env) / 1000,
            doc_first_sentence=ANSWER_DOC_FIRST_SENTENCE_S.read(env),
        )


@dataclass(frozen=True)
class ActionServerSettings:
    """Everything the action server reads from its environment, read once at start."""

    host: str = HOST.default
    token: str = field(default="", repr=False)
    metrics_token: str = field(default="", repr=False)
    log_format: str = LOG_FORMAT.default
    log_level: str = LOG_LEVEL.default
    stream_url: str = ""
    stream_token: str = field(default="", repr=False)
    state_db: Path = STATE_DB.default
    lockout: LockoutPolicy = field(default_factory=lambda: LockoutPolicy.from_env({}))
    answering: AnsweringSettings = field(default_factory=AnsweringSettings)
    alternatives_budget: float = ALTERNATIVES_BUDGET_MS.default / 1000

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ActionServerSettings:
        """Read every variable above from ``env``.

        Raises:
            SettingsError: a value cannot be used (the message names the variable).
        """
        return cls(
            host=HOST.read(env),
            token=TOKEN.read(env),
            metrics_token=METRICS_TOKEN.read(env),
            log_format=LOG_FORMAT.read(env),
            log_level=LOG_LEVEL.read(env),
            stream_url=STREAM_URL.read(env),
            stream_token=STREAM_TOKEN.read(env),
            state_db=STATE_DB.read(env),
            lockout=LockoutPolicy.from_env(env),
            answering=AnsweringSettings.from_env(env),
            alternatives_budget=ALTERNATIVES_BUDGET_MS.read(env) / 1000,
        )


_current: ActionServerSettings | None = None
_current_lock = threading.Lock()


def use_settings(settings: ActionServerSettings | None) -> None:
    """Make ``settings`` the process's (the server's main, tests); None: read the environment
    again on the next `current_settings`."""
    global _current
    with _current_lock:
        _current = settings


def current_settings() -> ActionServerSettings:
    """The process's settings: those the server's main handed over, else the environment's,
    read once (actions run without the server: tests, tools).

    Raises:
        SettingsError: read now, and a value cannot be used.
    """
    global _current
    with _current_lock:
        if _current is None:
            _current = ActionServerSettings.from_env(os.environ)
        return _current
