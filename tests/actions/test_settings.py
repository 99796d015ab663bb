"""The action server's settings: read once at start, relative paths from the project root,
and a value it cannot use named with the variable."""

from __future__ import annotations

import pytest

from actions.settings import (
    ActionServerSettings,
    AnsweringSettings,
    Limit,
    current_settings,
    use_settings,
)
from envvars import ROOT, SettingsError


def test_the_defaults_are_the_safe_local_ones() -> None:
    settings = ActionServerSettings.from_env({})
    assert settings == ActionServerSettings()
    assert (settings.host, settings.token, settings.log_format, settings.log_level) == (
        "127.0.0.1",
        "",
        "text",
        "INFO",
    )
    assert settings.state_db == ROOT / "var" / "actions-state.db"
    assert settings.lockout.record == Limit(5, 900.0, 900.0)
    assert settings.answering == AnsweringSettings()
    assert settings.alternatives_budget == 2.0


def test_a_relative_state_db_is_read_from_the_project_root() -> None:
    settings = ActionServerSettings.from_env({"ACTIONS_STATE_DB": "state/actions.db"})
    assert settings.state_db == ROOT / "state" / "actions.db"


def test_log_settings_are_read_in_any_case() -> None:
    settings = ActionServerSettings.from_env({"LOG_FORMAT": "JSON", "LOG_LEVEL": "debug"})
    assert (settings.log_format, settings.log_level) == ("json", "DEBUG")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN must be at least 16 characters, got 5"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be text or json, got 'xml'"),
        ({"LOCKOUT_CLIENT_FAILURES": "0"}, "LOCKOUT_CLIENT_FAILURES must be at least 1, got 0"),
        ({"ALTERNATIVES_BUDGET_MS": "soon"}, "ALTERNATIVES_BUDGET_MS must be a number, got 'soon'"),
    ],
    ids=["metrics-token", "log-format", "lockout", "alternatives-budget"],
)
def test_a_bad_value_names_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        ActionServerSettings.from_env(env)
    assert str(raised.value) == message


def test_the_settings_handed_over_are_not_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    handed = ActionServerSettings.from_env({"ALTERNATIVES_BUDGET_MS": "100"})
    use_settings(handed)
    monkeypatch.setenv("ALTERNATIVES_BUDGET_MS", "5000")
    assert current_settings() is handed
    use_settings(None)  # none handed over: the environment's, read once
    assert current_settings().alternatives_budget == 5.0
    monkeypatch.setenv("ALTERNATIVES_BUDGET_MS", "7000")
    assert current_settings().alternatives_budget == 5.0
