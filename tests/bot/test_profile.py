"""The profile settings: PROFILE, the production services and the names of what it creates,
with clear errors for values that cannot be used; provisioning that cannot reach a service
says which and what to check."""

from __future__ import annotations

import pytest

from bot.launcher import prepare_profile
from bot.profile import (
    ACCOUNT_SECRETS,
    PRODUCTION_ENDPOINTS_FILE,
    Production,
    ProfileError,
    endpoints_file,
    profile_name,
    replica_count,
)
from bot.provision import Provisioned, ProvisionError, postgres, rabbitmq, redis_acl


def test_embedded_is_the_default_and_unknown_profiles_are_refused() -> None:
    assert profile_name({}) == "embedded"
    assert profile_name({"PROFILE": " Production "}) == "production"
    with pytest.raises(ProfileError, match="PROFILE must be one of embedded, production"):
        profile_name({"PROFILE": "prod"})


def test_the_embedded_profile_adds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROFILE", raising=False)
    assert prepare_profile() == {}


def test_everything_the_profile_creates_is_named_after_production_name() -> None:
    settings = Production.from_env({"PRODUCTION_NAME": "Acme_Bot", "RASA_LOCK_REDIS_DB": "4"})
    env = settings.rasa_environment({name: f"pw-{name}" for name in ACCOUNT_SECRETS})

    assert (settings.tracker_database, settings.redis_user, settings.vhost) == (
        "acme_bot_rasa", "acme_bot_rasa", "acme_bot",
    )  # fmt: skip
    assert env["RASA_LOCK_KEY_PREFIX"] == "acmebot"  # Rasa takes alphanumeric prefixes only
    assert env["RASA_EVENTS_URL"] == "amqp://127.0.0.1:5672/acme_bot"
    assert env["RASA_LOCK_REDIS_DB"] == "4"
    assert env["TICKET_LOCK_LIFETIME"] == "25"
    assert replica_count({"PROFILE": "production", "REPLICAS": "3"}) == 3
    assert env["RASA_TRACKER_PG_PASSWORD"] == "pw-RASA_TRACKER_PG_PASSWORD"
    assert endpoints_file(env) == PRODUCTION_ENDPOINTS_FILE
    # The administrator's account never reaches the processes.
    assert "postgres@" not in " ".join(env.values())


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PRODUCTION_NAME": "acme-bot"}, "PRODUCTION_NAME must be letters"),
        ({"PRODUCTION_NAME": "1acme"}, "PRODUCTION_NAME must be letters"),
        ({"RASA_LOCK_REDIS_DB": "16"}, "RASA_LOCK_REDIS_DB must be a whole number from 0 to 15"),
        ({"PRODUCTION_RABBITMQ_PORT": "amqp"}, "PRODUCTION_RABBITMQ_PORT must be a whole"),
        ({"PRODUCTION_POSTGRES_ADMIN_URL": "mysql://x"}, "must be a postgresql:// URL"),
        ({"PRODUCTION_REDIS_ADMIN_URL": "localhost:6379"}, "must be a redis:// URL"),
        ({"TICKET_LOCK_LIFETIME": "30"}, r"TICKET_LOCK_LIFETIME \(30 s\) must be shorter"),
        ({"TICKET_LOCK_LIFETIME": "12", "RASA_TIMEOUT": "10"}, "than the gateway's RASA_TIMEOUT"),
        ({"REPLICAS": "2"}, "REPLICAS=2 needs PROFILE=production"),
        ({"REPLICAS": "9", "PROFILE": "production"}, "REPLICAS must be a whole number from 1 to 8"),
    ],
)
def test_unusable_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        Production.from_env(env)
        replica_count(env)


def test_unreachable_services_are_named_with_the_setting_to_check() -> None:
    settings = Production(
        postgres_admin_url="postgresql://postgres@127.0.0.1:1/postgres",
        redis_admin_url="redis://127.0.0.1:1/0",
        rabbitmqctl="no-such-rabbitmqctl",
    )
    with pytest.raises(ProvisionError, match="PostgreSQL at 127.0.0.1:1.*PRODUCTION_POSTGRES"):
        postgres(settings, "pw", Provisioned())
    with pytest.raises(ProvisionError, match="Redis at 127.0.0.1:1.*PRODUCTION_REDIS_ADMIN_URL"):
        redis_acl(settings, "pw", Provisioned())
    with pytest.raises(ProvisionError, match="'no-such-rabbitmqctl' not found.*RABBITMQCTL"):
        rabbitmq(settings, "pw", "pw2", Provisioned())
