"""The profile settings: PROFILE, the production services and the names of what it creates,
with clear errors for values that cannot be used; provisioning that cannot reach a service
says which and what to check; the action servers' own database (lockout counts, the audit
trail), made on the machine's PostgreSQL with its least-privilege role and given to every
action server replica; the gateway's analytics account, which may only read Rasa's trackers."""

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
from bot.provision import (
    Provisioned,
    ProvisionError,
    postgres,
    postgres_analytics,
    rabbitmq,
    redis_acl,
)
from bot.secrets import SECRET_NAMES
from bot.settings import Ports
from connectors.settings import GatewaySettings

PASSWORDS = {name: f"pw-{name}" for name in ACCOUNT_SECRETS}
# What every gateway replica must share once its state is in PostgreSQL and Redis.
SHARED_SECRETS = {"WEB_SESSION_SECRET": "w" * 32, "VERIFICATION_SECRET": "v" * 32}


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
        ({"RASA_LOCK_REDIS_DB": "16"}, "RASA_LOCK_REDIS_DB must be between 0 and 15, got 16"),
        ({"PRODUCTION_RABBITMQ_PORT": "amqp"}, "PRODUCTION_RABBITMQ_PORT must be a port number"),
        ({"PRODUCTION_POSTGRES_ADMIN_URL": "mysql://x"}, "must be a postgresql:// URL"),
        ({"PRODUCTION_REDIS_ADMIN_URL": "localhost:6379"}, "must be a redis:// URL"),
        ({"TICKET_LOCK_LIFETIME": "30"}, r"TICKET_LOCK_LIFETIME \(30 s\) must be shorter"),
        ({"TICKET_LOCK_LIFETIME": "12", "RASA_TIMEOUT": "10"}, "than the gateway's RASA_TIMEOUT"),
        ({"REPLICAS": "2"}, "REPLICAS=2 needs PROFILE=production"),
        ({"REPLICAS": "9", "PROFILE": "production"}, "REPLICAS must be between 1 and 8, got 9"),
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
    for name in ("postgres_analytics", "redis_acl", "redis_gateway_acl"):
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


def require_postgres(settings: Production) -> None:
    """Skip locally, fail in CI, when the machine's PostgreSQL cannot be reached."""
    try:
        with psycopg.connect(settings.postgres_admin_url, connect_timeout=5):
            pass
    except psycopg.OperationalError as error:
        message = f"PostgreSQL is not reachable for the provisioning test: {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture()
def provisioned_actions() -> Iterator[tuple[Production, str]]:
    """The action servers' database and role made on the machine's PostgreSQL under a name of
    this test's own, dropped after it."""
    settings = Production.from_env({"PRODUCTION_NAME": "erp_state_test"})
    require_postgres(settings)
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


# --- the gateway's analytics account ---------------------------------------------------------


def test_the_gateway_reads_the_trackers_with_its_own_analytics_account() -> None:
    settings = Production.from_env(
        {
            "PRODUCTION_NAME": "Acme_Bot",
            "PRODUCTION_POSTGRES_ADMIN_URL": "postgresql://postgres@db.internal:6432/postgres",
        }
    )

    env = settings.gateway_environment(PASSWORDS)
    gateway = GatewaySettings.from_env(
        {**env, **settings.rasa_environment(PASSWORDS), **SHARED_SECRETS}
    )

    assert settings.analytics_role == "acme_bot_analytics"
    assert env["ANALYTICS_EVENTS_URL"] == (
        "postgresql://acme_bot_analytics@db.internal:6432/acme_bot_rasa"
    )
    assert env["ANALYTICS_EVENTS_PASSWORD"] == "pw-ANALYTICS_EVENTS_PASSWORD"
    assert "ANALYTICS_EVENTS_PASSWORD" in ACCOUNT_SECRETS  # generated, or the operator's
    # Not Rasa's own account, although the gateway is given Rasa's settings too.
    assert gateway.analytics_events_url == env["ANALYTICS_EVENTS_URL"]
    assert gateway.analytics_events_password == "pw-ANALYTICS_EVENTS_PASSWORD"


def test_provisioning_makes_the_analytics_account_with_its_own_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[tuple[str, str]] = []
    monkeypatch.setattr(provision, "postgres", lambda *args, **names: None)
    monkeypatch.setattr(
        provision,
        "postgres_analytics",
        lambda settings, password, report: made.append((settings.analytics_role, password)),
    )
    for name in ("redis_acl", "redis_gateway_acl", "rabbitmq"):
        monkeypatch.setattr(provision, name, lambda *args: None)

    provision.provision(Production(name="acme"), PASSWORDS)

    assert made == [("acme_analytics", "pw-ANALYTICS_EVENTS_PASSWORD")]


@pytest.fixture()
def analytics_settings() -> Iterator[Production]:
    """A production name of this test's own on the machine's PostgreSQL; its databases and
    roles are dropped after the test."""
    settings = Production.from_env({"PRODUCTION_NAME": f"anl_test_{os.urandom(4).hex()}"})
    require_postgres(settings)
    yield settings
    with psycopg.connect(settings.postgres_admin_url, autocommit=True) as admin:
        for database in (settings.tracker_database, settings.gateway_database):
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(database)))  # fmt: skip
        for role in (settings.analytics_role, settings.tracker_role, settings.gateway_role):
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def provision_postgres(settings: Production, passwords: dict[str, str]) -> list[str]:
    """What provisioning does on PostgreSQL for the trackers, the gateway and its analytics."""
    report = Provisioned()
    postgres(settings, passwords["RASA_TRACKER_PG_PASSWORD"], report)
    postgres(
        settings, passwords["GATEWAY_DATABASE_PASSWORD"], report, role=settings.gateway_role,
        database=settings.gateway_database,
    )  # fmt: skip
    postgres_analytics(settings, passwords["ANALYTICS_EVENTS_PASSWORD"], report)
    return report.done


def connect_as(role: str, database: str, password: str) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host="127.0.0.1", dbname=database, user=role, password=password, autocommit=True,
        connect_timeout=5,
    )  # fmt: skip


@pytest.mark.integration
def test_the_analytics_account_may_only_read_the_trackers(
    analytics_settings: Production,
) -> None:
    from sqlalchemy import text

    from connectors.analytics.reader import read_only_engine

    settings = analytics_settings
    passwords = {name: f"pw-{name}-{os.urandom(8).hex()}" for name in ACCOUNT_SECRETS}
    first = provision_postgres(settings, passwords)
    # Rasa creates its table at its first start, after provisioning, as its own role.
    with connect_as(settings.tracker_role, settings.tracker_database,
                    passwords["RASA_TRACKER_PG_PASSWORD"]) as rasa:  # fmt: skip
        rasa.execute(
            "CREATE TABLE events (id SERIAL PRIMARY KEY, sender_id VARCHAR(255), "
            "type_name VARCHAR(255), timestamp FLOAT, intent_name VARCHAR(255), "
            "action_name VARCHAR(255), data TEXT)"
        )
        rasa.execute("INSERT INTO events (sender_id, type_name) VALUES ('web:a', 'user')")
    # The gateway reads it with what the profile gives it, before provisioning runs again.
    gateway = GatewaySettings.from_env(
        {**settings.gateway_environment(passwords), **SHARED_SECRETS}
    )
    engine = read_only_engine(
        gateway.analytics_events_url, password=gateway.analytics_events_password
    )
    try:
        with engine.connect() as reader:
            assert reader.execute(text("SELECT sender_id FROM events")).all() == [("web:a",)]
    finally:
        engine.dispose()

    second = provision_postgres(settings, passwords)  # at the next start: nothing new

    analytics_line = (
        f"PostgreSQL: role {settings.analytics_role} may only read the tables of "
        f"{settings.tracker_database}"
    )
    assert first[-1] == second[-1] == analytics_line
    assert [line for line in first if "created database" not in line] == second
    password = passwords["ANALYTICS_EVENTS_PASSWORD"]
    with connect_as(settings.analytics_role, settings.tracker_database, password) as analytics:
        assert analytics.execute("SELECT count(*) FROM events").fetchone() == (1,)
        for statement in (
            "INSERT INTO events (sender_id, type_name) VALUES ('web:b', 'user')",
            "UPDATE events SET sender_id = 'web:b'",
            "DELETE FROM events",
            "TRUNCATE events",
            "DROP TABLE events",
            "CREATE TEMPORARY TABLE scratch (id INT)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                analytics.execute(statement)
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        connect_as(settings.analytics_role, settings.gateway_database, password).close()
    with psycopg.connect(settings.postgres_admin_url, dbname=settings.tracker_database) as admin:
        grants = admin.execute(
            "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
            "WHERE grantee = %s",
            (settings.analytics_role,),
        ).fetchall()
        row: Any = admin.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls "
            "FROM pg_roles WHERE rolname = %s",
            (settings.analytics_role,),
        ).fetchone()
    assert grants == [("events", "SELECT")]
    assert row == (False,) * 5
