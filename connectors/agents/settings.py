"""Agent-side settings (sessions, login limits, Slack agent channel), read from the environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from connectors.errors import SettingsError

_SLACK_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
_SLACK_CHANNEL = re.compile(r"[CGD][A-Z0-9]{2,20}")


@dataclass(frozen=True)
class AgentSettings:
    """How long agent sessions live, how logins are limited, where Slack agents work.

    ``slack_agent_users`` maps a Slack user id to the console agent it acts as; an empty
    name means the auto-created agent ``slack:<id>``. When the mapping is empty, every
    member of ``slack_agent_channel`` may act as an agent (channel membership is the
    permission); when it is not, only the listed users may.

    Example:
        >>> AgentSettings.from_env({"SLACK_AGENT_USER_IDS": "U01AB=alice,U02CD"}).slack_agent_users
        {'U01AB': 'alice', 'U02CD': ''}
    """

    session_idle_seconds: float = 30 * 60
    session_max_seconds: float = 12 * 3600
    online_seconds: float = 5 * 60
    login_max_failures: int = 5
    login_account_max_failures: int = 10
    login_window_seconds: float = 15 * 60
    login_max_hashing: int = 2
    demo_password: str = ""
    canned_replies_file: str = "data/handoff/canned_replies.yml"
    slack_agent_channel: str = ""
    slack_agent_users: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AgentSettings:
        """Build settings from ``environ`` (default ``os.environ``).

        Reads AGENT_SESSION_IDLE_MINUTES, AGENT_SESSION_MAX_HOURS, AGENT_ONLINE_MINUTES,
        AGENT_LOGIN_MAX_FAILURES (per account and client), AGENT_LOGIN_ACCOUNT_MAX_FAILURES
        (per account from anywhere), AGENT_LOGIN_WINDOW_MINUTES, AGENT_LOGIN_MAX_HASHING
        (password checks at once; more get 503), AGENT_DEMO_PASSWORD,
        AGENT_CANNED_REPLIES (a YAML file), SLACK_AGENT_CHANNEL (a channel id such as
        C0123ABCD) and SLACK_AGENT_USER_IDS (comma-separated ``U123`` or ``U123=username``).

        Raises:
            SettingsError: a variable is set to a value that cannot be used.
        """
        env = os.environ if environ is None else environ
        defaults = cls()
        channel = (env.get("SLACK_AGENT_CHANNEL") or "").strip()
        if channel and not _SLACK_CHANNEL.fullmatch(channel):
            raise SettingsError(
                f"SLACK_AGENT_CHANNEL must be a Slack channel id like C0123ABCD, got {channel!r}"
            )
        return cls(
            session_idle_seconds=60
            * _number(env, "AGENT_SESSION_IDLE_MINUTES", defaults.session_idle_seconds / 60),
            session_max_seconds=3600
            * _number(env, "AGENT_SESSION_MAX_HOURS", defaults.session_max_seconds / 3600),
            online_seconds=60 * _number(env, "AGENT_ONLINE_MINUTES", defaults.online_seconds / 60),
            login_max_failures=int(
                _number(env, "AGENT_LOGIN_MAX_FAILURES", defaults.login_max_failures, whole=True)
            ),
            login_account_max_failures=int(
                _number(
                    env,
                    "AGENT_LOGIN_ACCOUNT_MAX_FAILURES",
                    defaults.login_account_max_failures,
                    whole=True,
                )
            ),
            login_window_seconds=60
            * _number(env, "AGENT_LOGIN_WINDOW_MINUTES", defaults.login_window_seconds / 60),
            login_max_hashing=int(
                _number(env, "AGENT_LOGIN_MAX_HASHING", defaults.login_max_hashing, whole=True)
            ),
            demo_password=env.get("AGENT_DEMO_PASSWORD") or "",
            canned_replies_file=env.get("AGENT_CANNED_REPLIES") or defaults.canned_replies_file,
            slack_agent_channel=channel,
            slack_agent_users=_slack_users(env.get("SLACK_AGENT_USER_IDS") or ""),
        )


def _number(env: Mapping[str, str], name: str, default: float, *, whole: bool = False) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise SettingsError(f"{name} must be {kind}, got {raw!r}") from None
    if not 0 < value < float("inf"):
        raise SettingsError(f"{name} must be greater than 0, got {raw}")
    return value


def _slack_users(raw: str) -> dict[str, str]:
    users: dict[str, str] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        user, _, name = (piece.strip() for piece in item.partition("="))
        if not _SLACK_ID.fullmatch(user):
            raise SettingsError(
                f"SLACK_AGENT_USER_IDS entries must be U123 or U123=username, got {item!r}"
            )
        users[user] = name
    return users
