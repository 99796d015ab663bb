"""Agent-side settings (sessions, login limits, Slack agent channel), read from the environment
through the gateway's variables (connectors.settings)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from connectors.settings import (
    AGENT_CANNED_REPLIES,
    AGENT_DEMO_PASSWORD,
    AGENT_LOGIN_ACCOUNT_MAX_FAILURES,
    AGENT_LOGIN_MAX_FAILURES,
    AGENT_LOGIN_MAX_HASHING,
    AGENT_LOGIN_WINDOW_MINUTES,
    AGENT_ONLINE_MINUTES,
    AGENT_SESSION_IDLE_MINUTES,
    AGENT_SESSION_MAX_HOURS,
    SLACK_AGENT_CHANNEL,
    SLACK_AGENT_USER_IDS,
)


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

    session_idle_seconds: float = 60 * AGENT_SESSION_IDLE_MINUTES.default
    session_max_seconds: float = 3600 * AGENT_SESSION_MAX_HOURS.default
    online_seconds: float = 60 * AGENT_ONLINE_MINUTES.default
    login_max_failures: int = AGENT_LOGIN_MAX_FAILURES.default
    login_account_max_failures: int = AGENT_LOGIN_ACCOUNT_MAX_FAILURES.default
    login_window_seconds: float = 60 * AGENT_LOGIN_WINDOW_MINUTES.default
    login_max_hashing: int = AGENT_LOGIN_MAX_HASHING.default
    demo_password: str = ""
    canned_replies_file: str = str(AGENT_CANNED_REPLIES.default)
    slack_agent_channel: str = ""
    slack_agent_users: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AgentSettings:
        """Build settings from ``environ`` (default ``os.environ``): the AGENT_* and
        SLACK_AGENT_* variables (docs/configuration.md).

        Raises:
            SettingsError: a variable is set to a value that cannot be used.
        """
        env = os.environ if environ is None else environ
        return cls(
            session_idle_seconds=60 * AGENT_SESSION_IDLE_MINUTES.read(env),
            session_max_seconds=3600 * AGENT_SESSION_MAX_HOURS.read(env),
            online_seconds=60 * AGENT_ONLINE_MINUTES.read(env),
            login_max_failures=AGENT_LOGIN_MAX_FAILURES.read(env),
            login_account_max_failures=AGENT_LOGIN_ACCOUNT_MAX_FAILURES.read(env),
            login_window_seconds=60 * AGENT_LOGIN_WINDOW_MINUTES.read(env),
            login_max_hashing=AGENT_LOGIN_MAX_HASHING.read(env),
            demo_password=AGENT_DEMO_PASSWORD.read(env),
            canned_replies_file=str(AGENT_CANNED_REPLIES.read(env)),
            slack_agent_channel=SLACK_AGENT_CHANNEL.read(env),
            slack_agent_users=dict(SLACK_AGENT_USER_IDS.read(env)),
        )
