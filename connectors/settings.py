"""Gateway settings, read from the environment with safe local defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from connectors.errors import SettingsError


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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GatewaySettings:
        """Build settings from ``environ`` (default ``os.environ``).

        Reads RASA_URL, ACTION_SERVER_URL, HOST, PORT, MAX_MESSAGE_CHARS and RASA_TIMEOUT
        (seconds); unset or empty variables keep their defaults.

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
        )


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
