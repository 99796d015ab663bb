"""Ports and addresses of the assistant's processes, and every variable the launcher reads
(`make run`, `python -m bot`; the "launcher" table of docs/configuration.md), from the
environment with local defaults; and the one `bot.rasa_server` reads in Rasa's env ("rasa").

Standard library only (envvars and models.settings are too): the installer (bot/install.py)
reads its variables here before any virtualenv exists, and Rasa's env (Python 3.10) imports it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bot import paths
from envvars import Parser, Variable, Variables, integer, path, text
from models.settings import PORT as GENERATOR_PORT

PROFILES = ("embedded", "production")
GENERATED = "generated once into var/secrets.json"


def _port_number(raw: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"must be a port number between 1 and 65535, got {raw!r}")
    return int(raw)


def _profile(raw: str) -> str:
    name = raw.lower()
    if name not in PROFILES:
        raise ValueError(f"must be one of {', '.join(PROFILES)}, got {name!r}")
    return name


def _production_name(raw: str) -> str:
    if not raw.replace("_", "").isalnum() or not raw[:1].isalpha() or len(raw) > 40:
        raise ValueError(f"must be letters, digits and _ (at most 40, a letter first), got {raw!r}")
    return raw.lower()


def _service_url(scheme: str) -> Parser[str]:
    def parse(raw: str) -> str:
        if urlsplit(raw).scheme != scheme or not urlsplit(raw).hostname:
            raise ValueError(f"must be a {scheme}:// URL, got {raw!r}")
        return raw

    return Parser(f"{scheme}:// URL with a host", parse)


def _epoch_seconds(raw: str) -> float | None:
    # Unreadable: the lines count from the board's opening instead (never an error: the
    # Makefile sets it, nobody types it).
    try:
        return float(raw)
    except ValueError:
        return None


PORT_NUMBER = Parser("port 1..65535", _port_number)

LAUNCHER = Variables("launcher", "make run / python -m bot (the launcher, setup and supervisor)")
RASA_PORT = LAUNCHER.add("RASA_PORT", 5005, "Port of Rasa's server", PORT_NUMBER)
ACTIONS_PORT = LAUNCHER.add("ACTIONS_PORT", 5055, "Port of the action server", PORT_NUMBER)
GATEWAY_PORT = LAUNCHER.add(
    "PORT", 8080, "Port of the gateway (of HAProxy in front of it with REPLICAS > 1)", PORT_NUMBER
)
TRACKER_DB = LAUNCHER.add(
    "RASA_TRACKER_DB", paths.VAR / "rasa_tracker.db",
    "Rasa's SQLite tracker store (the embedded profile), given to Rasa and the gateway", path(),
)  # fmt: skip
RASA_BIN = LAUNCHER.add(
    "RASA_BIN", paths.ROOT / ".venv-rasa" / "bin" / "rasa",
    "The `rasa` command of Rasa's virtualenv (its python beside it runs Rasa)", path(),
)  # fmt: skip
ENDPOINTS_FILE = LAUNCHER.add(
    "RASA_ENDPOINTS_FILE", paths.ENDPOINTS_FILE,
    "Rasa's endpoints file (PROFILE=production sets bot/endpoints.production.yml)", path(),
)  # fmt: skip
PROFILE = LAUNCHER.add(
    "PROFILE", "embedded",
    "embedded (SQLite, one machine) or production (PostgreSQL, Redis, RabbitMQ)",
    Parser(f"one of {', '.join(PROFILES)}", _profile),
)  # fmt: skip
REPLICAS = LAUNCHER.add(
    "REPLICAS", 1,
    "Gateways, Rasa servers and action servers behind HAProxy (more than 1: production only)",
    integer(1, 8),
)  # fmt: skip
POSTGRES_ADMIN_URL = LAUNCHER.add(
    "PRODUCTION_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres",
    "PostgreSQL administrator, used only to create the assistant's own accounts",
    _service_url("postgresql"),
)  # fmt: skip
REDIS_ADMIN_URL = LAUNCHER.add(
    "PRODUCTION_REDIS_ADMIN_URL", "redis://127.0.0.1:6379/0",
    "Redis administrator, used only to create the assistant's own accounts",
    _service_url("redis"),
)  # fmt: skip
LOCK_REDIS_DB = LAUNCHER.add(
    "RASA_LOCK_REDIS_DB", 1, "Redis database of Rasa's lock store (production)", integer(0, 15)
)
RABBITMQ_HOST = LAUNCHER.add(
    "PRODUCTION_RABBITMQ_HOST", "127.0.0.1", "RabbitMQ host of Rasa's event broker (production)"
)
RABBITMQ_PORT = LAUNCHER.add(
    "PRODUCTION_RABBITMQ_PORT", 5672, "RabbitMQ port of Rasa's event broker", PORT_NUMBER
)
RABBITMQCTL = LAUNCHER.add(
    "RABBITMQCTL", "rabbitmqctl", "The tool that creates RabbitMQ's vhost and users"
)
PRODUCTION_NAME = LAUNCHER.add(
    "PRODUCTION_NAME", "erp_assistant",
    "Prefix of every database, role, vhost, queue and key the production profile creates",
    Parser("letters, digits and _ (a letter first, at most 40)", _production_name),
)  # fmt: skip
TICKET_LOCK_LIFETIME = LAUNCHER.add(
    "TICKET_LOCK_LIFETIME", 25,
    "Seconds a message may wait for its conversation's lock (Rasa's); below RASA_TIMEOUT",
    integer(5, 600),
)  # fmt: skip
RASA_TIMEOUT = LAUNCHER.add(
    "RASA_TIMEOUT", 30,
    "The gateway's wait for Rasa, in seconds: read here to check TICKET_LOCK_LIFETIME",
    integer(1, 3600),
)  # fmt: skip
PROGRESS_SINCE = LAUNCHER.add(
    "PROGRESS_SINCE", None,
    "Epoch seconds the Makefile sets once per make: the steps' times count from it",
    Parser("epoch seconds (unreadable: ignored)", _epoch_seconds),
    shown_default="(set by the Makefile)",
)  # fmt: skip
PYTHON311 = LAUNCHER.add(
    "PYTHON311", "", "The Python 3.11 the Makefile found, for the background llama.cpp build",
    shown_default="(the launcher's own)",
)  # fmt: skip
LLAMA_CMAKE_ARGS = LAUNCHER.add(
    "LLAMA_CMAKE_ARGS", "",
    "CMake flags of the llama.cpp build (make install and the launcher's), e.g. -DGGML_CUDA=on",
    shown_default="portable AVX2 kernels",
)  # fmt: skip
LLAMA_WHEEL_CACHE = LAUNCHER.add(
    "LLAMA_WHEEL_CACHE", None, "Where built llama-cpp-python wheels are kept (make install)",
    Parser[Path | None]("path (relative: from the project root)", path().parse),
    shown_default="$XDG_CACHE_HOME/erp-assistant/wheels",
)  # fmt: skip
XDG_CACHE_HOME = LAUNCHER.add(
    "XDG_CACHE_HOME", Path.home() / ".cache", "The user's cache folder", path(),
    shown_default="~/.cache",
)  # fmt: skip


def _secret(name: str, doc: str) -> Variable[str]:
    return LAUNCHER.add(name, "", doc, text(), secret=True, shown_default=GENERATED)


# Set in the environment, a secret is used instead of the stored one (bot.secrets).
SHARED_SECRETS = {variable.name: variable for variable in (
    _secret("RASA_TOKEN", "Token the gateway sends to Rasa (its HTTP API and channel)"),
    _secret("ACTION_SERVER_TOKEN", "Token Rasa sends to the action server"),
    _secret("GATEWAY_INTERNAL_TOKEN",
            "Token the action server sends to the gateway's /internal/stream"),
    _secret("GENERATOR_TOKEN", "Token the action server and the gateway send to the generator"),
    _secret("VERIFICATION_SECRET", "Key that signs verification records"),
    _secret("WEB_SESSION_SECRET", "Key that signs the web chat's session tokens"),
    _secret("METRICS_TOKEN", "Token of /metrics on the gateway and the action server"),
)}  # fmt: skip
# The passwords of the accounts the production profile creates (bot.provision).
ACCOUNT_PASSWORDS = {variable.name: variable for variable in (
    _secret("RASA_TRACKER_PG_PASSWORD", "Password of Rasa's tracker store account (PostgreSQL)"),
    _secret("RASA_LOCK_REDIS_PASSWORD", "Password of Rasa's lock store account (Redis)"),
    _secret("RASA_EVENTS_PASSWORD", "Password of Rasa's event broker account (RabbitMQ)"),
    _secret("RASA_EVENTS_READER_PASSWORD",
            "Password of the account that reads the conversation events (RabbitMQ)"),
    _secret("GATEWAY_REDIS_PASSWORD", "Password of the gateway's Redis account"),
    _secret("GATEWAY_DATABASE_PASSWORD", "Password of the gateway's PostgreSQL account"),
    _secret("ACTIONS_STATE_DATABASE_PASSWORD",
            "Password of the action servers' PostgreSQL account"),
    _secret("ANALYTICS_EVENTS_PASSWORD",
            "Password of the analytics account, which only reads Rasa's trackers"),
)}  # fmt: skip

RASA = Variables("rasa", "Rasa's server (python -m bot.rasa_server run, in .venv-rasa)")
RASA_API_TOKEN = RASA.add(
    "RASA_TOKEN", "", "Token of Rasa's HTTP API; Rasa does not start without one",
    text(), secret=True, shown_default="set by make run (var/secrets.json)",
)  # fmt: skip


def environment(env: Mapping[str, str] | None) -> Mapping[str, str]:
    """``env``, or the process's environment when None."""
    return os.environ if env is None else env


@dataclass(frozen=True)
class Ports:
    """TCP ports of the Rasa server, the action server, the gateway and the generator."""

    rasa: int
    actions: int
    gateway: int
    generator: int = 5006

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Ports:
        """Read RASA_PORT, ACTIONS_PORT, PORT and GENERATOR_PORT (defaults 5005, 5055, 8080,
        5006) from ``env`` (default: the process's environment).

        Raises:
            envvars.SettingsError: one is not a port number.
        """
        env = environment(env)
        return cls(
            rasa=RASA_PORT.read(env),
            actions=ACTIONS_PORT.read(env),
            gateway=GATEWAY_PORT.read(env),
            generator=GENERATOR_PORT.read(env),
        )

    @classmethod
    def free(cls) -> Ports:
        """Ports nobody listens on now: for tests and benchmarks beside a running bot."""
        return cls(
            rasa=free_port(), actions=free_port(), gateway=free_port(), generator=free_port()
        )

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa}"

    @property
    def action_server_url(self) -> str:
        return f"http://127.0.0.1:{self.actions}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway}"

    @property
    def generator_url(self) -> str:
        return f"http://127.0.0.1:{self.generator}"


def tracker_db_path(env: Mapping[str, str] | None = None) -> str:
    """Where Rasa keeps conversation trackers (RASA_TRACKER_DB overrides it)."""
    return str(TRACKER_DB.read(environment(env)))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free at the time of asking."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
