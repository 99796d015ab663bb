"""Which engines the assistant runs on: ``PROFILE=embedded`` (the default: SQLite, one machine,
nothing to install) or ``PROFILE=production`` (Rasa's SQL tracker store on PostgreSQL, its
lock store on Redis, its event broker on RabbitMQ).

Production settings (declared in bot.settings) name the services and an administrator
account on each, used only to create the assistant's own least-privilege accounts
(`bot.provision`); the running processes get those accounts, never the administrator's.
``PRODUCTION_NAME`` is the prefix of every database, role, vhost, queue and key the profile
creates, so two installations can share the services.

``TICKET_LOCK_LIFETIME`` (Rasa's own setting) is how long a message may wait for its
conversation's lock, and how long a lock outlives a Rasa replica that died holding it. It
must stay below the gateway's RASA_TIMEOUT: a message waiting for such a lock is then still
answered within the gateway's wait, instead of being processed after the gateway gave up (its
reply lost, and the user's resend processed twice). Long enough for a burst of messages to
one conversation to be taken one after the other (20 at once pass).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from bot import paths
from bot.settings import (
    ACCOUNT_PASSWORDS,
    ENDPOINTS_FILE,
    LOCK_REDIS_DB,
    POSTGRES_ADMIN_URL,
    PRODUCTION_NAME,
    PROFILE,
    RABBITMQ_HOST,
    RABBITMQ_PORT,
    RABBITMQCTL,
    RASA_TIMEOUT,
    REDIS_ADMIN_URL,
    REPLICAS,
    TICKET_LOCK_LIFETIME,
    environment,
)
from envvars import SettingsError, Variable

T = TypeVar("T")

PRODUCTION_ENDPOINTS_FILE = paths.ROOT / "bot" / "endpoints.production.yml"
# The passwords of the accounts the profile creates, generated once into var/secrets.json
# (or set in the environment by an operator whose accounts exist already).
ACCOUNT_SECRETS = tuple(ACCOUNT_PASSWORDS)


class ProfileError(SettingsError):
    """A profile setting cannot be used; the message names the variable and the value."""


@dataclass(frozen=True)
class Production:
    """Where the production profile's services are and what it calls its accounts there."""

    postgres_admin_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    redis_admin_url: str = "redis://127.0.0.1:6379/0"
    lock_db: int = 1
    rabbitmq_host: str = "127.0.0.1"
    rabbitmq_port: int = 5672
    rabbitmqctl: str = "rabbitmqctl"
    name: str = "erp_assistant"
    lock_lifetime: int = 25

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Production:
        """The settings from ``env`` (default: the process's environment), defaults for what
        is not set.

        Raises:
            ProfileError: a value that cannot be used, named with the variable.
        """
        env = environment(env)
        settings = cls(
            postgres_admin_url=_read(POSTGRES_ADMIN_URL, env),
            redis_admin_url=_read(REDIS_ADMIN_URL, env),
            lock_db=_read(LOCK_REDIS_DB, env),
            rabbitmq_host=_read(RABBITMQ_HOST, env),
            rabbitmq_port=_read(RABBITMQ_PORT, env),
            rabbitmqctl=_read(RABBITMQCTL, env),
            name=_read(PRODUCTION_NAME, env),
            lock_lifetime=_read(TICKET_LOCK_LIFETIME, env),
        )
        rasa_timeout = _read(RASA_TIMEOUT, env)
        if settings.lock_lifetime >= rasa_timeout:
            raise ProfileError(
                f"TICKET_LOCK_LIFETIME ({settings.lock_lifetime} s) must be shorter than the "
                f"gateway's RASA_TIMEOUT ({rasa_timeout} s): a message waiting for the lock "
                "of a replica that died would be answered after the gateway gave up"
            )
        return settings

    # What the profile creates, all named after ``name``.

    @property
    def tracker_database(self) -> str:
        return f"{self.name}_rasa"

    @property
    def tracker_role(self) -> str:
        return f"{self.name}_rasa"

    @property
    def analytics_role(self) -> str:
        """The gateway's account for the analytics page: may only read the trackers."""
        return f"{self.name}_analytics"

    @property
    def gateway_database(self) -> str:
        return f"{self.name}_gateway"

    @property
    def gateway_role(self) -> str:
        return f"{self.name}_gateway"

    @property
    def actions_database(self) -> str:
        """The action servers' own state: lockout counts and the audit trail (erp/state.py)."""
        return f"{self.name}_actions"

    @property
    def actions_role(self) -> str:
        return f"{self.name}_actions"

    @property
    def redis_user(self) -> str:
        return f"{self.name}_rasa"

    @property
    def gateway_redis_user(self) -> str:
        return f"{self.name}_gateway"

    @property
    def lock_prefix(self) -> str:
        """Rasa's lock store key prefix (alphanumeric only): keys are ``<prefix>:lock:<id>``."""
        return self.name.replace("_", "")

    @property
    def vhost(self) -> str:
        return self.name

    @property
    def events_user(self) -> str:
        return f"{self.name}_rasa"

    @property
    def events_queue(self) -> str:
        return f"{self.name}_events"

    @property
    def events_reader(self) -> str:
        """The account that consumers of the conversation events (analytics) use."""
        return f"{self.name}_events_reader"

    def rasa_environment(self, passwords: Mapping[str, str]) -> dict[str, str]:
        """What bot/endpoints.production.yml reads: the assistant's own accounts."""
        postgres = urlsplit(self.postgres_admin_url)
        redis = urlsplit(self.redis_admin_url)
        return {
            "RASA_ENDPOINTS_FILE": str(PRODUCTION_ENDPOINTS_FILE),
            "RASA_TRACKER_PG_HOST": postgres.hostname or "127.0.0.1",
            "RASA_TRACKER_PG_PORT": str(postgres.port or 5432),
            "RASA_TRACKER_PG_DB": self.tracker_database,
            "RASA_TRACKER_PG_USER": self.tracker_role,
            "RASA_TRACKER_PG_PASSWORD": passwords["RASA_TRACKER_PG_PASSWORD"],
            "RASA_LOCK_REDIS_HOST": redis.hostname or "127.0.0.1",
            "RASA_LOCK_REDIS_PORT": str(redis.port or 6379),
            "RASA_LOCK_REDIS_DB": str(self.lock_db),
            "RASA_LOCK_REDIS_USER": self.redis_user,
            "RASA_LOCK_REDIS_PASSWORD": passwords["RASA_LOCK_REDIS_PASSWORD"],
            "RASA_LOCK_KEY_PREFIX": self.lock_prefix,
            "TICKET_LOCK_LIFETIME": str(self.lock_lifetime),
            "RASA_EVENTS_URL": f"amqp://{self.rabbitmq_host}:{self.rabbitmq_port}/{self.vhost}",
            "RASA_EVENTS_PORT": str(self.rabbitmq_port),
            "RASA_EVENTS_USER": self.events_user,
            "RASA_EVENTS_PASSWORD": passwords["RASA_EVENTS_PASSWORD"],
            "RASA_EVENTS_QUEUE": self.events_queue,
        }

    def gateway_environment(self, passwords: Mapping[str, str]) -> dict[str, str]:
        """What the gateway reads for the state its replicas share: its own PostgreSQL
        database, and its own Redis account for rate limits and the web chat's Socket.IO
        manager; and the account its analytics page reads Rasa's trackers with, which may
        only read them (passwords apart from the URLs, as a deployment's secrets give them)."""
        redis = urlsplit(self.redis_admin_url)
        postgres = urlsplit(self.postgres_admin_url)
        redis_url = (
            f"redis://{self.gateway_redis_user}@{redis.hostname or '127.0.0.1'}:"
            f"{redis.port or 6379}/{self.lock_db}"
        )
        postgres_at = f"{postgres.hostname or '127.0.0.1'}:{postgres.port or 5432}"
        return {
            "GATEWAY_DATABASE_URL": (
                f"postgresql://{self.gateway_role}@{postgres_at}/{self.gateway_database}"
            ),
            "GATEWAY_DATABASE_PASSWORD": passwords["GATEWAY_DATABASE_PASSWORD"],
            "RATE_LIMIT_REDIS_URL": redis_url,
            "SOCKETIO_REDIS_URL": redis_url,
            "RATE_LIMIT_REDIS_PREFIX": self.lock_prefix,
            "GATEWAY_REDIS_PASSWORD": passwords["GATEWAY_REDIS_PASSWORD"],
            "ANALYTICS_EVENTS_URL": (
                f"postgresql://{self.analytics_role}@{postgres_at}/{self.tracker_database}"
            ),
            "ANALYTICS_EVENTS_PASSWORD": passwords["ANALYTICS_EVENTS_PASSWORD"],
        }

    def actions_environment(self, passwords: Mapping[str, str]) -> dict[str, str]:
        """What the action servers read for the state their replicas share (lockout counts,
        the audit trail): their own PostgreSQL database, the password apart from the URL. The
        gateway reads the audit trail there too (the agent console's audit panel)."""
        postgres = urlsplit(self.postgres_admin_url)
        return {
            "ACTIONS_STATE_DATABASE_URL": (
                f"postgresql://{self.actions_role}@{postgres.hostname or '127.0.0.1'}:"
                f"{postgres.port or 5432}/{self.actions_database}"
            ),
            "ACTIONS_STATE_DATABASE_PASSWORD": passwords["ACTIONS_STATE_DATABASE_PASSWORD"],
        }


def profile_name(env: Mapping[str, str] | None = None) -> str:
    """``PROFILE`` (``embedded`` when unset).

    Raises:
        ProfileError: not one of PROFILES.
    """
    return _read(PROFILE, environment(env))


def replica_count(env: Mapping[str, str] | None = None) -> int:
    """``REPLICAS`` (1): how many Rasa servers and action servers run behind HAProxy.

    Raises:
        ProfileError: not an integer from 1 to 8, or more than 1 without
            PROFILE=production (replicas share conversations through its Redis lock store
            and PostgreSQL tracker store; SQLite and in-memory locks are one process's).
    """
    env = environment(env)
    count = _read(REPLICAS, env)
    if count > 1 and profile_name(env) != "production":
        raise ProfileError(
            f"REPLICAS={count} needs PROFILE=production: replicas share conversations "
            "through its Redis lock store and PostgreSQL tracker store"
        )
    return count


def endpoints_file(env: Mapping[str, str]) -> Path:
    """The Rasa endpoints file a process environment asks for (the embedded one by default)."""
    return _read(ENDPOINTS_FILE, env)


def _read(variable: Variable[T], env: Mapping[str, str]) -> T:
    """``variable``'s value; a bad one raises ProfileError (what the profile's callers catch)."""
    try:
        return variable.read(env)
    except SettingsError as error:
        raise ProfileError(str(error)) from None
