"""Ports and addresses of the assistant's processes, from the environment with local defaults."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from bot import paths


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SystemExit(f"{name} must be a port number between 1 and 65535, got {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class Ports:
    """TCP ports of the Rasa server, the action server, the gateway and the generator."""

    rasa: int
    actions: int
    gateway: int
    generator: int = 5006

    @classmethod
    def from_env(cls) -> Ports:
        """Read RASA_PORT, ACTIONS_PORT, PORT and GENERATOR_PORT (defaults 5005, 5055, 8080,
        5006)."""
        return cls(
            rasa=_port("RASA_PORT", 5005),
            actions=_port("ACTIONS_PORT", 5055),
            gateway=_port("PORT", 8080),
            generator=_port("GENERATOR_PORT", 5006),
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


def tracker_db_path() -> str:
    """Where Rasa keeps conversation trackers (RASA_TRACKER_DB overrides it)."""
    return os.environ.get("RASA_TRACKER_DB", str(paths.VAR / "rasa_tracker.db"))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free at the time of asking."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
