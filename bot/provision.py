"""Create the production profile's accounts on PostgreSQL, Redis and RabbitMQ, each with only
the rights it needs; safe to run again at every start (it brings what exists up to date).

- PostgreSQL: a login role that owns one database (Rasa's trackers) and nothing else, one
  more for the gateway's state and one for the action servers' (lockout counts, the audit
  trail); not superusers, cannot create databases or roles; PUBLIC may not connect to those
  databases. One more login role, the gateway's analytics page's, may connect to the
  trackers' database and SELECT from its tables, and do nothing else.
- Redis: an ACL user that may only touch the lock store's keys (``<prefix>:lock:*``) with the
  few commands the lock store sends, and one for the gateway's replicas: shared rate limits
  (``<prefix>:rate:*``, one script), the web chat's Socket.IO messages and the Telegram and
  Slack answer drafts passed between replicas (the pub/sub channels ``<prefix>:socketio`` and
  ``<prefix>:drafts``, no other) and which chat windows are open (``<prefix>:presence:*``, a
  few sorted-set commands). Redis keeps no ACL on disk here, so this runs at every start.
- RabbitMQ: a vhost for the assistant; Rasa's user may declare and publish to its exchange and
  queue and read nothing; a reader account for consumers of the events may only read the queue.

Each step says what it did; an unreachable service or a refused administrator account raises
ProvisionError naming the service and the setting to look at.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.profile import Production

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger("bot")

RABBITMQ_EXCHANGE = "rasa-exchange"  # the exchange Rasa's pika broker declares
# What Rasa's Redis lock store sends (rasa/core/lock_store.py), and AUTH/HELLO/PING to connect.
_LOCK_COMMANDS = ("get", "set", "del", "exists", "select", "ping", "hello", "auth")
# What the gateway's shared rate limits send (connectors/ratelimit.py: one script), and the
# connection's own commands. (redis-py also sends CLIENT SETINFO, which Redis before 7.2 does
# not know and redis-py lets fail quietly; refused here, it fails as quietly.)
_RATE_COMMANDS = (
    "evalsha", "script|load", "time", "hmget", "hset", "expire", "select", "ping", "hello",
    "auth",
)  # fmt: skip
# What the web chat's replicas send besides: Socket.IO's Redis manager publishes to and
# subscribes to its channel (socketio/async_redis_manager.py), and the presence of chat
# windows (connectors/channels/presence.py) is a sorted set per conversation, stamped with
# TIME and kept alive with EXPIRE, both already in _RATE_COMMANDS.
_WEB_CHAT_COMMANDS = (
    "publish", "subscribe", "unsubscribe", "zadd", "zrem", "zrange", "zremrangebyscore",
)  # fmt: skip


class ProvisionError(RuntimeError):
    """A service could not be prepared; the message says which and what to check."""


@dataclass
class Provisioned:
    """What a run created or brought up to date, one line per thing, for the start banner."""

    done: list[str] = field(default_factory=list)


def provision(settings: Production, passwords: Mapping[str, str]) -> Provisioned:
    """Create or update every account of the profile.

    Raises:
        ProvisionError: a service is unreachable or refused the administrator account.
    """
    report = Provisioned()
    postgres(settings, passwords["RASA_TRACKER_PG_PASSWORD"], report)
    postgres(
        settings,
        passwords["GATEWAY_DATABASE_PASSWORD"],
        report,
        role=settings.gateway_role,
        database=settings.gateway_database,
    )
    postgres(
        settings,
        passwords["ACTIONS_STATE_DATABASE_PASSWORD"],
        report,
        role=settings.actions_role,
        database=settings.actions_database,
    )
    postgres_analytics(settings, passwords["ANALYTICS_EVENTS_PASSWORD"], report)
    redis_acl(settings, passwords["RASA_LOCK_REDIS_PASSWORD"], report)
    redis_gateway_acl(settings, passwords["GATEWAY_REDIS_PASSWORD"], report)
    rabbitmq(
        settings,
        passwords["RASA_EVENTS_PASSWORD"],
        passwords["RASA_EVENTS_READER_PASSWORD"],
        report,
    )
    return report


def reset(settings: Production) -> None:
    """Drop the tracker, gateway and action server databases and empty the events queue: a
    clean start for a benchmark or a test run under its own PRODUCTION_NAME (never for an
    installation in use)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(settings.postgres_admin_url, autocommit=True, connect_timeout=10) as db:
        for database in (
            settings.tracker_database,
            settings.gateway_database,
            settings.actions_database,
        ):
            db.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(database)))  # fmt: skip
    tool = shutil.which(settings.rabbitmqctl)
    if tool is not None:  # no queue yet is fine
        subprocess.run(
            [tool, "-q", "purge_queue", "-p", settings.vhost, settings.events_queue],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip


def postgres(
    settings: Production,
    password: str,
    report: Provisioned,
    *,
    role: str | None = None,
    database: str | None = None,
) -> None:
    """A database owned by its own role: Rasa's trackers (the default), the gateway's state or
    the action servers'."""
    import psycopg
    from psycopg import sql

    role = role or settings.tracker_role
    database = database or settings.tracker_database
    try:
        with psycopg.connect(
            settings.postgres_admin_url, autocommit=True, connect_timeout=10
        ) as db:
            _login_role(db, role, password)
            if not db.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              (database,)).fetchone():  # fmt: skip
                db.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(database), sql.Identifier(role)))  # fmt: skip
                report.done.append(f"PostgreSQL: created database {database}")
            db.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(
                sql.Identifier(database)))  # fmt: skip
            db.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
                sql.Identifier(database), sql.Identifier(role)))  # fmt: skip
    except psycopg.Error as error:
        raise ProvisionError(
            f"PostgreSQL at {_where(settings.postgres_admin_url)}: {_one_line(error)} "
            "(check PRODUCTION_POSTGRES_ADMIN_URL and that PostgreSQL runs)"
        ) from error
    report.done.append(f"PostgreSQL: role {role} owns {database} and nothing else")


def postgres_analytics(settings: Production, password: str, report: Provisioned) -> None:
    """The gateway's analytics account: connects to Rasa's trackers' database and reads its
    tables, including those Rasa creates after this (``events``, at its first start); no
    other right there, no other database."""
    import psycopg
    from psycopg import sql

    role = sql.Identifier(settings.analytics_role)
    database = sql.Identifier(settings.tracker_database)
    try:
        with psycopg.connect(
            settings.postgres_admin_url, autocommit=True, connect_timeout=10
        ) as db:
            _login_role(db, settings.analytics_role, password)
            db.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, role))
        # Schema and table rights live in the database itself: the administrator's URL with
        # the trackers' database in place of its own.
        with psycopg.connect(
            settings.postgres_admin_url,
            dbname=settings.tracker_database,
            autocommit=True,
            connect_timeout=10,
        ) as db:
            db.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
            db.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(role))
            db.execute(
                sql.SQL(
                    "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public "
                    "GRANT SELECT ON TABLES TO {}"
                ).format(sql.Identifier(settings.tracker_role), role)
            )
    except psycopg.Error as error:
        raise ProvisionError(
            f"PostgreSQL at {_where(settings.postgres_admin_url)}: {_one_line(error)} "
            "(check PRODUCTION_POSTGRES_ADMIN_URL and that PostgreSQL runs)"
        ) from error
    report.done.append(
        f"PostgreSQL: role {settings.analytics_role} may only read the tables of "
        f"{settings.tracker_database}"
    )


def _login_role(db: psycopg.Connection[Any], role: str, password: str) -> None:
    """Create ``role`` or bring it up to date: it logs in with ``password`` and may not create
    databases or roles, replicate, or bypass row security."""
    from psycopg import sql

    exists = db.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    verb = "ALTER" if exists else "CREATE"
    db.execute(
        sql.SQL(
            verb + " ROLE {} LOGIN PASSWORD {} NOSUPERUSER NOCREATEDB NOCREATEROLE "
            "NOREPLICATION NOBYPASSRLS"
        ).format(sql.Identifier(role), sql.Literal(password))
    )


def redis_acl(settings: Production, password: str, report: Provisioned) -> None:
    """An ACL user for Rasa's lock store: its keys and its commands only."""
    _redis_user(settings, settings.redis_user, password, ("lock",), _LOCK_COMMANDS)
    report.done.append(
        f"Redis: user {settings.redis_user} may use keys {settings.lock_prefix}:lock:* in db "
        f"{settings.lock_db}"
    )


def redis_gateway_acl(settings: Production, password: str, report: Provisioned) -> None:
    """An ACL user for the state the gateway's replicas share: rate limits (its script), the
    web chat (its Socket.IO channel and the presence of windows) and the answer drafts'
    channel, their keys only."""
    _redis_user(
        settings,
        settings.gateway_redis_user,
        password,
        ("rate", "presence"),
        _RATE_COMMANDS + _WEB_CHAT_COMMANDS,
        channels=("socketio", "drafts"),
    )
    prefix = settings.lock_prefix
    report.done.append(
        f"Redis: user {settings.gateway_redis_user} may use keys {prefix}:rate:* and "
        f"{prefix}:presence:*, channels {prefix}:socketio and {prefix}:drafts"
    )


def _redis_user(
    settings: Production,
    user: str,
    password: str,
    keys: tuple[str, ...],
    commands: tuple[str, ...],
    *,
    channels: tuple[str, ...] = (),
) -> None:
    """Create or reset ``user``: keys ``<prefix>:<k>:*`` for each of ``keys``, pub/sub
    channels ``<prefix>:<c>`` (exactly) for each of ``channels``, and ``commands`` only."""
    import redis

    prefix = settings.lock_prefix
    rules = [
        "reset", "on", f">{password}", *(f"~{prefix}:{k}:*" for k in keys), "resetchannels",
        *(f"&{prefix}:{c}" for c in channels), "-@all", *(f"+{command}" for command in commands),
    ]  # fmt: skip
    try:
        client = redis.Redis.from_url(settings.redis_admin_url, socket_timeout=10)
        try:
            client.execute_command("ACL", "SETUSER", user, *rules)
        finally:
            client.close()
    except redis.RedisError as error:
        raise ProvisionError(
            f"Redis at {_where(settings.redis_admin_url)}: {_one_line(error)} "
            "(check PRODUCTION_REDIS_ADMIN_URL and that Redis runs)"
        ) from error


def rabbitmq(
    settings: Production, password: str, reader_password: str, report: Provisioned
) -> None:
    """The vhost, Rasa's publishing user and the events reader."""
    tool = shutil.which(settings.rabbitmqctl)
    if tool is None:
        raise ProvisionError(
            f"RabbitMQ: {settings.rabbitmqctl!r} not found; install rabbitmq-server's tools or "
            "set RABBITMQCTL to its path (it creates the vhost and users)"
        )
    vhost, queue = settings.vhost, settings.events_queue

    def ctl(*args: str, check: bool = True, secret: str | None = None) -> str:
        try:
            done = subprocess.run(
                [tool, "-q", *args], input=secret, capture_output=True, text=True, timeout=60,
                check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as error:
            raise ProvisionError(f"RabbitMQ: {settings.rabbitmqctl} failed: {error}") from error
        if check and done.returncode != 0:
            raise ProvisionError(
                f"RabbitMQ: `rabbitmqctl {args[0]}` failed: {done.stderr.strip()[:300]} "
                "(is RabbitMQ running, and may this user run rabbitmqctl?)"
            )
        return done.stdout

    if vhost not in ctl("list_vhosts").split():
        ctl("add_vhost", vhost)
        report.done.append(f"RabbitMQ: created vhost {vhost}")
    users = {line.split()[0] for line in ctl("list_users").splitlines() if line.strip()}
    for user, secret in ((settings.events_user, password),
                         (settings.events_reader, reader_password)):  # fmt: skip
        # The password goes through stdin, so that `ps` never shows it.
        ctl("change_password" if user in users else "add_user", user, secret=secret)
    exchange = f"^{RABBITMQ_EXCHANGE}$"
    both = f"^({RABBITMQ_EXCHANGE}|{queue})$"
    # configure, write, read: Rasa declares both, publishes to the exchange and binds the queue
    # to it (binding needs write on the queue and read on the exchange); reads no messages.
    ctl("set_permissions", "-p", vhost, settings.events_user, both, both, exchange)
    ctl("set_permissions", "-p", vhost, settings.events_reader, "^$", "^$", f"^{queue}$")
    report.done.append(
        f"RabbitMQ: vhost {vhost}, {settings.events_user} publishes to {queue}, "
        f"{settings.events_reader} reads it"
    )


def _where(url: str) -> str:
    """host:port of a URL, without its credentials (for messages)."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def _one_line(error: Exception) -> str:
    """An error's message on one line (psycopg's span several, with tabs)."""
    return " ".join(str(error).split())
