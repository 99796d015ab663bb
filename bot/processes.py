"""Start, watch and stop the assistant's three processes: Rasa, actions and the gateway."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot import paths
from bot.settings import Ports, tracker_db_path


def rasa_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for Rasa commands: offline, quiet, and never phoning home."""
    env = dict(os.environ)
    env.update(
        RASA_TELEMETRY_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="2",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        HF_HUB_OFFLINE="1",
        RASA_CACHE_DIRECTORY=str(paths.VAR / "rasa-cache"),
        TRANSFORMERS_OFFLINE="1",
    )
    env.update(extra or {})
    return env


@dataclass
class Service:
    """One child process and the URL that answers when it is ready."""

    name: str
    command: list[str]
    health_url: str
    env: dict[str, str]
    log_file: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_file.open("ab")
        # A session of its own: Ctrl-C reaches only the launcher, which stops children in order.
        self.process = subprocess.Popen(
            self.command,
            cwd=paths.ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.health_url, timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def build_services(ports: Ports, *, logs_dir: Path = paths.LOGS_DIR) -> list[Service]:
    """The three processes in start order, wired to each other through `ports`."""
    shared = {
        "RASA_URL": ports.rasa_url,
        "ACTION_SERVER_URL": ports.action_server_url,
        "RASA_TRACKER_DB": tracker_db_path(),
        "PORT": str(ports.gateway),
        # The action server posts answer drafts to the gateway with a per-run secret.
        "GATEWAY_STREAM_URL": f"{ports.gateway_url}/internal/stream",
        "GATEWAY_INTERNAL_TOKEN": os.environ.get("GATEWAY_INTERNAL_TOKEN")
        or secrets.token_urlsafe(32),
    }
    env = rasa_environment(shared)
    actions = Service(
        name="actions",
        command=[paths.main_python(), "-m", "rasa_sdk", "--actions", "actions",
                 "--port", str(ports.actions)],
        health_url=f"{ports.action_server_url}/health",
        # rasa-sdk 3.21 serves rasa 3.6 fine (same webhook protocol); drop its version warning.
        env={**env, "PYTHONWARNINGS": "ignore:Your versions of rasa and rasa_sdk:UserWarning"},
        log_file=logs_dir / "actions.log",
    )  # fmt: skip
    rasa = Service(
        name="rasa",
        command=[str(paths.rasa_executable()), "run", "--enable-api",
                 "--interface", "127.0.0.1", "--port", str(ports.rasa),
                 "--model", str(paths.MODEL_FILE),
                 "--endpoints", str(paths.ENDPOINTS_FILE),
                 "--credentials", str(paths.CREDENTIALS_FILE)],
        health_url=f"{ports.rasa_url}/status",
        env=env,
        log_file=logs_dir / "rasa.log",
    )  # fmt: skip
    gateway = Service(
        name="gateway",
        command=[paths.main_python(), "-m", "connectors"],
        health_url=f"{ports.gateway_url}/healthz",
        env=env,
        log_file=logs_dir / "gateway.log",
    )
    return [actions, rasa, gateway]


class ServiceFailed(RuntimeError):
    """A child process exited, or did not become healthy in time."""


def wait_until_healthy(services: list[Service], *, timeout: float) -> None:
    """Block until every service answers its health URL; raise ServiceFailed otherwise."""
    deadline = time.monotonic() + timeout
    pending = list(services)
    while pending:
        for service in list(pending):
            code = service.exited()
            if code is not None:
                raise ServiceFailed(
                    f"{service.name} exited with code {code}: see {service.log_file}"
                )
            if service.healthy():
                pending.remove(service)
        if pending and time.monotonic() > deadline:
            names = ", ".join(s.name for s in pending)
            raise ServiceFailed(f"not healthy after {timeout:.0f} s: {names}")
        if pending:
            time.sleep(0.5)


def stop_all(services: list[Service]) -> None:
    """Stop the services in reverse start order."""
    for service in reversed(services):
        service.stop()
