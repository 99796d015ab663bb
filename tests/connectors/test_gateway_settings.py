"""GatewaySettings.from_env: defaults, overrides and clear errors for bad values."""

from __future__ import annotations

import pytest

from connectors.settings import GATEWAY, GatewaySettings
from envvars import ROOT, SettingsError


def test_defaults_when_nothing_is_set() -> None:
    assert GatewaySettings.from_env({}) == GatewaySettings(
        rasa_url="http://127.0.0.1:5005",
        action_server_url="http://127.0.0.1:5055",
        host="127.0.0.1",
        port=8080,
        max_message_chars=2000,
        rasa_timeout=30.0,
    )


def test_environment_overrides_every_field() -> None:
    env = {
        "RASA_URL": "http://rasa:5005/",
        "ACTION_SERVER_URL": "https://actions:5055",
        "HOST": "0.0.0.0",
        "PORT": "18080",
        "MAX_MESSAGE_CHARS": "500",
        "RASA_TIMEOUT": "2.5",
        "RASA_TOKEN": " rasa-token ",
    }

    assert GatewaySettings.from_env(env) == GatewaySettings(
        rasa_url="http://rasa:5005",
        action_server_url="https://actions:5055",
        host="0.0.0.0",
        port=18080,
        max_message_chars=500,
        rasa_timeout=2.5,
        rasa_token="rasa-token",
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "eighty"}, "PORT must be an integer, got 'eighty'"),
        ({"PORT": "70000"}, "PORT must be between 1 and 65535, got 70000"),
        ({"MAX_MESSAGE_CHARS": "0"}, "MAX_MESSAGE_CHARS must be at least 1, got 0"),
        ({"RASA_TIMEOUT": "soon"}, "RASA_TIMEOUT must be a number, got 'soon'"),
        ({"RASA_TIMEOUT": "-1"}, "RASA_TIMEOUT must be greater than 0, got -1"),
        ({"RASA_TIMEOUT": "nan"}, "RASA_TIMEOUT must be a finite number, got 'nan'"),
        (
            {"RASA_URL": "rasa:5005"},
            "RASA_URL must start with http:// or https://, got 'rasa:5005'",
        ),
    ],
    ids=[
        "port-not-int",
        "port-out-of-range",
        "zero-max-chars",
        "timeout-not-number",
        "negative-timeout",
        "nan-timeout",
        "url-without-scheme",
    ],
)
def test_bad_values_raise_settings_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        GatewaySettings.from_env(env)

    assert str(raised.value) == message


def test_max_message_chars_setting_limits_the_api() -> None:
    from connectors.errors import InvalidMessage
    from connectors.validation import parse_rest_message

    with pytest.raises(InvalidMessage, match=r"text is longer than 5 characters \(6\)"):
        parse_rest_message(b'{"sender_id": "u", "text": "abcdef"}', max_chars=5)


SHARED = {"WEB_SESSION_SECRET": "s" * 32, "VERIFICATION_SECRET": "v" * 32}


@pytest.mark.parametrize("missing", ["WEB_SESSION_SECRET", "VERIFICATION_SECRET"])
@pytest.mark.parametrize(
    "shared",
    [
        {"GATEWAY_DATABASE_URL": "postgresql://gw@127.0.0.1:5432/gw"},
        {"SOCKETIO_REDIS_URL": "redis://gw@127.0.0.1:6379/1"},
    ],
    ids=["database", "socketio"],
)
def test_replicas_sharing_state_need_the_shared_secrets(
    shared: dict[str, str], missing: str
) -> None:
    env = {**shared, **SHARED, missing: ""}

    with pytest.raises(SettingsError, match=f"{missing} must be set"):
        GatewaySettings.from_env(env)
    settings = GatewaySettings.from_env({**shared, **SHARED})
    assert settings.database_url or settings.socketio_redis_url


def test_the_gateway_database_must_be_a_postgresql_url() -> None:
    with pytest.raises(SettingsError, match="GATEWAY_DATABASE_URL must start with postgresql"):
        GatewaySettings.from_env({**SHARED, "GATEWAY_DATABASE_URL": "mysql://x@y/z"})


def test_slack_staff_roles_are_read_per_user_and_checked() -> None:
    settings = GatewaySettings.from_env(
        {"SLACK_STAFF_ROLES": "U0FIN=finance, T1:U0BOSS=Admin+writer,U0FIN=sales"}
    )
    assert settings.slack.staff_roles == {
        "U0FIN": {"finance", "sales"},
        "T1:U0BOSS": {"admin", "writer"},
    }
    assert settings.slack.roles_of("U0BOSS", "T1:U0BOSS") == {"admin", "writer"}
    assert settings.slack.roles_of("U0NOBODY") == frozenset()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("U0FIN=root", "SLACK_STAFF_ROLES U0FIN: root is not a role"),
        ("U0FIN", "SLACK_STAFF_ROLES entry 'U0FIN' is not user=role"),
        ("U0FIN=", "SLACK_STAFF_ROLES U0FIN: no role is not a role"),
    ],
)
def test_bad_slack_staff_roles_say_what_is_wrong(value: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        GatewaySettings.from_env({"SLACK_STAFF_ROLES": value})
    assert str(raised.value).startswith(message)


def test_the_gateway_serves_the_documents_the_index_was_built_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One setting for both: a company's documents elsewhere are cited and served there."""
    from retrieval.settings import RetrievalSettings

    monkeypatch.setenv("RETRIEVAL_DOCS_DIR", "/srv/company-docs")
    served = GatewaySettings.from_env({"RETRIEVAL_DOCS_DIR": "/srv/company-docs"}).docs_dir
    assert served == str(RetrievalSettings.from_env().docs_dir) == "/srv/company-docs"


def test_relative_paths_are_read_from_the_project_root_wherever_the_gateway_starts() -> None:
    from connectors.agents.settings import AgentSettings

    settings = GatewaySettings.from_env({
        "GATEWAY_DB": "var/other.db", "RETRIEVAL_DOCS_DIR": "/srv/docs",
        "HANDOFF_SENSITIVE_TOPICS": "data/topics.yml", "RASA_TRACKER_DB": "var/t.db",
    })  # fmt: skip

    assert settings.gateway_db == str(ROOT / "var" / "other.db")
    assert settings.docs_dir == "/srv/docs"
    assert settings.handoff.sensitive_topics == str(ROOT / "data" / "topics.yml")
    assert settings.analytics_events_url == f"sqlite:///{ROOT / 'var' / 't.db'}"
    assert GatewaySettings().gateway_db == str(ROOT / "var" / "gateway.db")
    canned = AgentSettings.from_env({"AGENT_CANNED_REPLIES": "replies.yml"}).canned_replies_file
    assert canned == str(ROOT / "replies.yml")


def test_choices_are_read_in_any_case() -> None:
    settings = GatewaySettings.from_env(
        {"TELEGRAM_MODE": "Polling", "HANDOFF_SUMMARY": " EXTRACTIVE "}
    )

    assert (settings.telegram.mode, settings.handoff.summary) == ("polling", "extractive")


def test_the_gateway_secrets_are_marked_secret() -> None:
    secrets = {variable.name for variable in GATEWAY if variable.secret}

    assert {
        "RASA_TOKEN", "METRICS_TOKEN", "GATEWAY_API_KEYS", "GATEWAY_DATABASE_PASSWORD",
        "WEB_SESSION_SECRET", "VERIFICATION_SECRET", "TELEGRAM_BOT_TOKEN", "SLACK_SIGNING_SECRET",
        "AGENT_PASSWORD", "AGENT_DEMO_PASSWORD",
    } <= secrets  # fmt: skip
