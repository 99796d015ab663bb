"""Which engines the assistant runs on: ``PROFILE=embedded`` (the default: SQLite, one machine,
nothing to install) or ``PROFILE=production`` (Rasa's SQL tracker store on PostgreSQL, its
lock store on Redis, its event broker on RabbitMQ).

Production settings name the services and an administrator account on each, used only to
create the assistant's own least-privilege accounts (`bot.provision`); the running processes
get those accounts, never the administrator's:

- ``PRODUCTION_POSTGRES_ADMIN_URL`` (``postgresql://postgres@127.0.0.1:5432/postgres``)
- ``PRODUCTION_REDIS_ADMIN_URL`` (``redis://127.0.0.1:6379/0``); ``RASA_LOCK_REDIS_DB`` (1)
- ``PRODUCTION_RABBITMQ_HOST`` (``127.0.0.1``), ``PRODUCTION_RABBITMQ_PORT`` (5672), and
  ``RABBITMQCTL`` (``rabbitmqctl``), the tool that creates the vhost and users
- ``TICKET_LOCK_LIFETIME`` (25 s, Rasa's own setting): how long a message may wait for its
  conversation's lock, and how long a lock outlives a Rasa replica that died holding it. It
  must stay below the gateway's RASA_TIMEOUT (30 s): a message waiting for such a lock is then
  still answered within the gateway's wait, instead of being processed after the gateway gave
  up (its reply lost, and the user's resend processed twice). Long enough for a burst of
  messages to one conversation to be taken one after the other (20 at once pass).
- ``PRODUCTION_NAME`` (``erp_assistant``): the prefix of every database, role, vhost, queue
  and key the profile creates, so two installations can share the services.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bot import paths

PROFILES = ("embedded", "production")
PRODUCTION_ENDPOINTS_FILE = paths.ROOT / "bot" / "endpoints.production.yml"
# The passwords of the accounts the profile creates, generated once into var/secrets.json
# (or set in the environment by an operator whose accounts exist already).
ACCOUNT_SECRETS = (
    "RASA_TRACKER_PG_PASSWORD",
    "RASA_LOCK_REDIS_PASSWORD",
    "RASA_EVENTS_PASSWORD",
    "RASA_EVENTS_READER_PASSWORD",
    "GATEWAY_REDIS_PASSWORD",
    "GATEWAY_DATABASE_PASSWORD",
    "ACTIONS_STATE_DATABASE_PASSWORD",
    "ANALYTICS_EVENTS_PASSWORD",
)


class ProfileError(ValueError):
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
        """The settings from ``env`` (os.environ), defaults for what is not set.

        Raises:
            ProfileError: a value that cannot be used, named with the variable.
        """
        env = os.environ if env is None else env
        defaults = cls()
        name = env.get("PRODUCTION_NAME", defaults.name)
        if not name.replace("_", "").isalnum() or not name[:1].isalpha() or len(name) > 40:
            raise ProfileError(
                f"PRODUCTION_NAME must be letters, digits and _ (at most 40, a letter "
                f"first), got {name!r}"
            )
        settings = cls(
            postgres_admin_url=env.get(
                "PRODUCTION_POSTGRES_ADMIN_URL", defaults.postgres_admin_url
            ),
            redis_admin_url=env.get("PRODUCTION_REDIS_ADMIN_URL", defaults.redis_admin_url),
            lock_db=_int(env, "RASA_LOCK_REDIS_DB", defaults.lock_db, 0, 15),
            rabbitmq_host=env.get("PRODUCTION_RABBITMQ_HOST", defaults.rabbitmq_host),
            rabbitmq_port=_int(env, "PRODUCTION_RABBITMQ_PORT", defaults.rabbitmq_port, 1, 65535),
            rabbitmqctl=env.get("RABBITMQCTL", defaults.rabbitmqctl),
            name=name.lower(),
            lock_lifetime=_int(env, "TICKET_LOCK_LIFETIME", defaults.lock_lifetime, 5, 600),
        )
        rasa_timeout = _int(env, "RASA_TIMEOUT", 30, 1, 3600)
        if settings.lock_lifetime >= rasa_timeout:
            raise ProfileError(
                f"TICKET_LOCK_LIFETIME ({settings.lock_lifetime} s) must be shorter than the "
                f"gateway's RASA_TIMEOUT ({rasa_timeout} s): a message waiting for the lock "
                "of a replica that died would be answered after the gateway gave up"
            )
        for variable, url, schemes in (
            ("PRODUCTION_POSTGRES_ADMIN_URL", settings.postgres_admin_url, ("postgresql",)),
            ("PRODUCTION_REDIS_ADMIN_URL", settings.redis_admin_url, ("redis",)),
        ):
            if urlsplit(url).scheme not in schemes or not urlsplit(url).hostname:
                raise ProfileError(f"{variable} must be a {schemes[0]}:// URL, got {url!r}")
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
    env = os.environ if env is None else env
    name = env.get("PROFILE", "").strip().lower() or "embedded"
    if name not in PROFILES:
        raise ProfileError(f"PROFILE must be one of {', '.join(PROFILES)}, got {name!r}")
    return name


def replica_count(env: Mapping[str, str] | None = None) -> int:
    """``REPLICAS`` (1): how many Rasa servers and action servers run behind HAProxy.

    Raises:
        ProfileError: not a whole number from 1 to 8, or more than 1 without
            PROFILE=production (replicas share conversations through its Redis lock store
            and PostgreSQL tracker store; SQLite and in-memory locks are one process's).
    """
    env = os.environ if env is None else env
    count = _int(env, "REPLICAS", 1, 1, 8)
    if count > 1 and profile_name(env) != "production":
        raise ProfileError(
            f"REPLICAS={count} needs PROFILE=production: replicas share conversations "
            "through its Redis lock store and PostgreSQL tracker store"
        )
    return count


def endpoints_file(env: Mapping[str, str]) -> Path:
    """The Rasa endpoints file a process environment asks for (the embedded one by default)."""
    return Path(env.get("RASA_ENDPOINTS_FILE") or paths.ENDPOINTS_FILE)


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ProfileError(f"{name} must be a whole number from {low} to {high}, got {raw!r}")
    return int(raw)
