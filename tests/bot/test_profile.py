"""The profile settings: PROFILE, the production services and the names of what it creates,
with clear errors for values that cannot be used; provisioning that cannot reach a service
says which and what to check; the action servers' own database (lockout counts, the audit
trail), made on the machine's PostgreSQL with its least-privilege role and given to every
action server replica."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from bot import launcher, provision
from bot.launcher import prepare_profile
from bot.processes import build_services
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
from bot.secrets import SECRET_NAMES
from bot.settings import Ports

PASSWORDS = {name: f"pw-{name}" for name in ACCOUNT_SECRETS}


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


# --- the action servers' database ----------------------------------------------------------


def test_the_action_servers_get_their_own_database_and_role() -> None:
    settings = Production.from_env(
        {
            "PRODUCTION_NAME": "Acme_Bot",
            "PRODUCTION_POSTGRES_ADMIN_URL": "postgresql://postgres@db.internal:6432/postgres",
        }
    )

    env = settings.actions_environment(PASSWORDS)

    assert (settings.actions_database, settings.actions_role) == ("acme_bot_actions",) * 2
    assert env == {
        "ACTIONS_STATE_DATABASE_URL": "postgresql://acme_bot_actions@db.internal:6432/acme_bot_actions",
        "ACTIONS_STATE_DATABASE_PASSWORD": "pw-ACTIONS_STATE_DATABASE_PASSWORD",
    }
    assert "ACTIONS_STATE_DATABASE_PASSWORD" in ACCOUNT_SECRETS  # generated, or the operator's


def test_provisioning_makes_the_action_servers_database_with_a_role_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[tuple[str, str, str]] = []

    def recording_postgres(
        settings: Production, password: str, report: Provisioned, **names: str
    ) -> None:
        made.append((names.get("role", "rasa"), names.get("database", "rasa"), password))

    monkeypatch.setattr(provision, "postgres", recording_postgres)
    for name in ("redis_acl", "redis_gateway_acl"):
        monkeypatch.setattr(provision, name, lambda *args: None)
    monkeypatch.setattr(provision, "rabbitmq", lambda *args: None)

    provision.provision(Production(name="acme"), PASSWORDS)

    assert ("acme_actions", "acme_actions", "pw-ACTIONS_STATE_DATABASE_PASSWORD") in made
    assert len({role for role, _, _ in made}) == len(made) == 3  # a role per database


def test_the_launcher_gives_every_action_server_replica_the_shared_state_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(launcher, "provision", lambda settings, passwords: Provisioned())
    env = {"PROFILE": "production", "PRODUCTION_NAME": "acme"}
    profile = prepare_profile(env, secrets_file=tmp_path / "secrets.json")
    secrets = {name: f"secret-of-{name.lower()}" for name in SECRET_NAMES}

    services = build_services(
        Ports.free(), logs_dir=tmp_path, secrets=secrets, generator=False, profile=profile,
        replicas=2,
    )  # fmt: skip

    assert profile["ACTIONS_STATE_DATABASE_URL"] == (
        "postgresql://acme_actions@127.0.0.1:5432/acme_actions"
    )
    password = profile["ACTIONS_STATE_DATABASE_PASSWORD"]
    assert len(password) >= 32  # generated into var/secrets.json
    by_name = {service.name: service.env for service in services}
    # Both action servers count guesses in one database; the gateways read the audit trail.
    for name in ("actions-1", "actions-2", "gateway-1", "gateway-2"):
        assert by_name[name]["ACTIONS_STATE_DATABASE_URL"] == profile["ACTIONS_STATE_DATABASE_URL"]
        assert by_name[name]["ACTIONS_STATE_DATABASE_PASSWORD"] == password
    assert all(password not in " ".join(service.command) for service in services)


@pytest.fixture()
def provisioned_actions() -> Iterator[tuple[Production, str]]:
    """The action servers' database and role made on the machine's PostgreSQL under a name of
    this test's own, dropped after it."""
    settings = Production.from_env({"PRODUCTION_NAME": "erp_state_test"})
    try:
        with psycopg.connect(settings.postgres_admin_url, connect_timeout=5):
            pass
    except psycopg.OperationalError as error:
        message = f"PostgreSQL is not reachable for the provisioning test: {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    password = "pw-of-the-actions-role-" + os.urandom(8).hex()
    postgres(
        settings, password, Provisioned(), role=settings.actions_role,
        database=settings.actions_database,
    )  # fmt: skip
    yield settings, password
    with psycopg.connect(settings.postgres_admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(settings.actions_database)))  # fmt: skip
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(
            sql.Identifier(settings.actions_role)))  # fmt: skip


@pytest.mark.integration
def test_the_provisioned_role_keeps_the_trail_in_its_database_and_may_do_nothing_else(
    provisioned_actions: tuple[Production, str], tmp_path: Path
) -> None:
    from erp.audit import AuditEvent, AuditTrail
    from erp.state import state_engine

    settings, password = provisioned_actions
    env = settings.actions_environment({"ACTIONS_STATE_DATABASE_PASSWORD": password})
    trail = AuditTrail(state_engine(tmp_path / "unused.db", env))  # creates its tables
    try:
        trail.record(AuditEvent("web:a", "web", "customer", "7", "orders.get", "SO-1", "ok", 1.0))
        assert [e.conversation for e in trail.query()] == ["web:a"]
    finally:
        trail.close()

    with psycopg.connect(settings.postgres_admin_url) as admin:
        row: Any = admin.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = %s",
            (settings.actions_role,),
        ).fetchone()
        owner = admin.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
            (settings.actions_database,),
        ).fetchone()
    assert row == (False, False, False)
    assert owner == (settings.actions_role,)
    stranger = f"{settings.name}_stranger"  # another database user
    with psycopg.connect(settings.postgres_admin_url, autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (stranger,)).fetchone():
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(stranger)))
    try:
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            psycopg.connect(
                host="127.0.0.1", dbname=settings.actions_database, user=stranger,
                connect_timeout=5,
            ).close()  # fmt: skip
    finally:
        with psycopg.connect(settings.postgres_admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(stranger)))
