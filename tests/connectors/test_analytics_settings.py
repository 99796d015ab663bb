"""Where the analytics page reads from: ANALYTICS_EVENTS_URL (the gateway's own read-only role
under PROFILE=production), else Rasa's tracker store as Rasa is given it (the SQLite file, or
PostgreSQL with Rasa's account in a setup made without that role), and the gateway's own
database."""

from __future__ import annotations

import pytest

from connectors.analytics.service import AnalyticsSources
from connectors.settings import GatewaySettings
from envvars import ROOT, SettingsError


def test_by_default_the_embedded_tracker_store_file() -> None:
    settings = GatewaySettings.from_env({})

    assert settings.analytics_events_url == f"sqlite:///{ROOT}/var/rasa_tracker.db"
    assert settings.analytics_events_password == ""


def test_the_tracker_file_the_launcher_gives_rasa() -> None:
    settings = GatewaySettings.from_env({"RASA_TRACKER_DB": "/srv/bot/var/rasa_tracker.db"})

    assert settings.analytics_events_url == "sqlite:////srv/bot/var/rasa_tracker.db"


def test_without_an_account_of_its_own_rasa_s_tracker_store_on_postgresql() -> None:
    settings = GatewaySettings.from_env({
        "RASA_TRACKER_PG_HOST": "db.internal", "RASA_TRACKER_PG_PORT": "5433",
        "RASA_TRACKER_PG_DB": "erp_assistant_rasa", "RASA_TRACKER_PG_USER": "erp_assistant_rasa",
        "RASA_TRACKER_PG_PASSWORD": "s3cret", "RASA_TRACKER_DB": "var/ignored.db",
    })  # fmt: skip

    assert settings.analytics_events_url == (
        "postgresql://erp_assistant_rasa@db.internal:5433/erp_assistant_rasa"
    )
    assert settings.analytics_events_password == "s3cret"
    assert "s3cret" not in repr(settings)


def test_an_explicit_url_wins_with_its_own_password() -> None:
    settings = GatewaySettings.from_env({
        "ANALYTICS_EVENTS_URL": "postgresql://analytics@db:5432/erp_assistant_rasa",
        "ANALYTICS_EVENTS_PASSWORD": "readonly-pw", "RASA_TRACKER_PG_HOST": "other",
        "RASA_TRACKER_PG_PASSWORD": "owner-pw",
    })  # fmt: skip

    assert settings.analytics_events_url == "postgresql://analytics@db:5432/erp_assistant_rasa"
    assert settings.analytics_events_password == "readonly-pw"


def test_another_database_is_refused_without_echoing_the_url() -> None:
    with pytest.raises(SettingsError, match="must start with sqlite:/// or postgresql://") as error:
        GatewaySettings.from_env({"ANALYTICS_EVENTS_URL": "mysql://root:hunter2@db/rasa"})

    assert "hunter2" not in str(error.value)


@pytest.mark.parametrize(
    ("env", "gateway_url", "password"),
    [
        ({}, f"sqlite:///{ROOT}/var/gateway.db", ""),
        ({"GATEWAY_DB": "/tmp/g.db"}, "sqlite:////tmp/g.db", ""),
        ({"GATEWAY_DATABASE_URL": "postgresql://gw@db/gw", "GATEWAY_DATABASE_PASSWORD": "pw",
          "WEB_SESSION_SECRET": "x" * 32, "VERIFICATION_SECRET": "y" * 32},
         "postgresql://gw@db/gw", "pw"),
    ],
    ids=["default file", "GATEWAY_DB", "PostgreSQL"],
)  # fmt: skip
def test_the_gateway_facts_come_from_its_own_database(
    env: dict[str, str], gateway_url: str, password: str
) -> None:
    sources = AnalyticsSources.of(GatewaySettings.from_env(env))

    assert (sources.gateway_url, sources.gateway_password) == (gateway_url, password)
    assert "pw" not in repr(sources)
