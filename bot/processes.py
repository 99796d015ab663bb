"""Start, watch and stop the assistant's processes: the generator, actions, Rasa, the gateway."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from bot import paths
from bot.balancer import Backend, Balancer, Gateway, haproxy_command
from bot.profile import endpoints_file
from bot.secrets import shared_secrets
from bot.settings import Ports, free_port, tracker_db_path
from contracts.drafts import STREAM_PATH
from models.settings import GeneratorSettings


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
    """One child process and the URL that answers when it is ready.

    A service that is not ``essential`` (the generator) may crash-loop without stopping the
    others: the supervisor gives up on it and the assistant answers without it.
    """

    name: str
    command: list[str]
    # Both may hold shared secrets: kept out of reprs, which end up in test reports and logs.
    health_url: str = field(repr=False)
    env: dict[str, str] = field(repr=False)
    log_file: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    essential: bool = True

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_file.open("ab")
        # One log file across restarts: a line marks where each run begins.
        log.write(
            f"--- {self.name} starting at {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n".encode()
        )
        log.flush()
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

    def kill_leftovers(self) -> None:
        """Kill what an exited process left in its session (workers it had started)."""
        if self.process is None or self.process.poll() is None:
            return
        # The session's process group keeps the dead leader's id while any member lives.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def build_services(
    ports: Ports,
    *,
    logs_dir: Path = paths.LOGS_DIR,
    secrets: Mapping[str, str] | None = None,
    generator: bool | None = None,
    profile: Mapping[str, str] | None = None,
    replicas: int = 1,
) -> list[Service]:
    """The processes in start order, wired to each other through `ports`.

    Every process listens on 127.0.0.1 (the gateway and the action server unless HOST or
    ACTION_SERVER_HOST say otherwise) and gets the shared secrets (`secrets`, default
    bot.secrets.shared_secrets(): the environment's, else var/secrets.json's), with which each
    authenticates its callers.

    The generator's server (models.server) comes first, when ``generator`` says so (default:
    when GENERATOR_BACKEND is not off); never when the operator's GENERATOR_URL names one
    elsewhere (a GPU machine, say). Every process gets GENERATOR_URL: the local server's,
    the operator's, or empty (no generator: templated and extractive answers).

    ``profile``: the production profile's environment (`bot.launcher.prepare_profile`): Rasa
    then reads bot/endpoints.production.yml (PostgreSQL, Redis, RabbitMQ).

    ``replicas`` > 1 (the production profile only: replicas share conversations through its
    lock and tracker stores, the gateways their state through its PostgreSQL database and
    Redis) starts that many gateways, Rasa servers and action servers on free loopback ports
    and HAProxy (`bot.balancer`) in front of them on PORT (on HOST), RASA_PORT and
    ACTIONS_PORT. Only the first gateway polls Telegram (TELEGRAM_MODE=polling): two
    getUpdates loops on one bot token conflict; the others never register a webhook either.

    Raises:
        BalancerMissing: replicas > 1 and HAProxy is not installed.
    """
    settings = GeneratorSettings.from_env()
    local = (settings.enabled if generator is None else generator) and not settings.url
    shared = {
        "RASA_URL": ports.rasa_url,
        "ACTION_SERVER_URL": ports.action_server_url,
        "RASA_TRACKER_DB": tracker_db_path(),
        "PORT": str(ports.gateway),
        # The action server posts answer drafts to the gateway (with GATEWAY_INTERNAL_TOKEN).
        "GATEWAY_STREAM_URL": ports.gateway_url + STREAM_PATH,
        "GENERATOR_URL": ports.generator_url if local else settings.url,
        **(shared_secrets() if secrets is None else secrets),
        # The production profile's engines and accounts (bot.profile), when it runs.
        **(profile or {}),
    }
    env = rasa_environment(shared)
    model = Service(
        name="generator",
        command=[paths.main_python(), "-m", "models.server", "--port", str(ports.generator)],
        health_url=f"{ports.generator_url}/health",
        env=env,
        log_file=logs_dir / "generator.log",
        essential=False,
    )

    def actions(name: str, port: int) -> Service:
        return Service(
            name=name,
            command=[paths.main_python(), "-m", "actions.server", "--port", str(port)],
            health_url=f"http://127.0.0.1:{port}/health"
            if replicas > 1
            else f"{ports.action_server_url}/health",
            env=env,
            log_file=logs_dir / f"{name}.log",
        )

    def rasa(name: str, port: int) -> Service:
        return Service(
            name=name,
            # bot.rasa_server adds --auth-token from RASA_TOKEN, so that `ps` never shows it.
            command=[str(paths.rasa_python()), "-m", "bot.rasa_server", "run", "--enable-api",
                     "--interface", "127.0.0.1", "--port", str(port),
                     "--model", str(paths.MODEL_FILE),
                     "--endpoints", str(endpoints_file(env)),
                     "--credentials", str(paths.CREDENTIALS_FILE)],
            health_url=f"http://127.0.0.1:{port}/status?token={quote(shared['RASA_TOKEN'])}",
            env=env,
            log_file=logs_dir / f"{name}.log",
        )  # fmt: skip

    def gateway(name: str, env: dict[str, str], health_url: str) -> Service:
        return Service(
            name=name,
            command=[paths.main_python(), "-m", "connectors"],
            health_url=health_url,
            env=env,
            log_file=logs_dir / f"{name}.log",
        )

    if replicas > 1:
        action_ports = [free_port() for _ in range(replicas)]
        rasa_ports = [free_port() for _ in range(replicas)]
        gateway_ports = [free_port() for _ in range(replicas)]
        balancer = Balancer(
            health_port=free_port(),
            backends=[
                Backend("actions", "127.0.0.1", ports.actions, "/health", action_ports),
                Backend("rasa", "127.0.0.1", ports.rasa, "/", rasa_ports),
                Gateway(env.get("HOST") or "127.0.0.1", ports.gateway, gateway_ports),
            ],
        )
        config = balancer.write(logs_dir / "haproxy.cfg")
        processes = [
            *(actions(f"actions-{i}", port) for i, port in enumerate(action_ports, start=1)),
            *(rasa(f"rasa-{i}", port) for i, port in enumerate(rasa_ports, start=1)),
            Service(
                name="balancer",
                command=haproxy_command(config),
                health_url=balancer.health_url,
                env=env,
                log_file=logs_dir / "balancer.log",
            ),
            *(
                gateway(
                    f"gateway-{i}",
                    gateway_replica_environment(env, port, first=i == 1),
                    f"http://127.0.0.1:{port}/healthz",
                )
                for i, port in enumerate(gateway_ports, start=1)
            ),
        ]
    else:
        processes = [
            actions("actions", ports.actions),
            rasa("rasa", ports.rasa),
            gateway("gateway", env, f"{ports.gateway_url}/healthz"),
        ]
    return [model, *processes] if local else processes


def gateway_replica_environment(
    env: Mapping[str, str], port: int, *, first: bool
) -> dict[str, str]:
    """``env`` for one gateway replica behind the balancer, on 127.0.0.1:``port``.

    Loopback only, whatever HOST says (the balancer listens there): only processes on this
    machine reach a replica, so the ``X-Forwarded-For`` uvicorn believes from 127.0.0.1 comes
    from the balancer (or a local proxy). Every replica but the ``first`` has Telegram in
    webhook mode with no webhook to register: a second getUpdates loop would conflict with the
    first's, and a setWebhook would end it. In webhook mode they take Telegram's updates like
    the first; in polling mode they still send (agent replies, notices) when
    TELEGRAM_WEBHOOK_SECRET is set, and without it their Telegram channel is off and the
    outbox leaves Telegram's messages to the first replica.
    """
    replica = {**env, "HOST": "127.0.0.1", "PORT": str(port)}
    if not first:
        replica.update(TELEGRAM_MODE="webhook", TELEGRAM_WEBHOOK_URL="")
    return replica


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


def describe_exit(code: int) -> str:
    """``exited with code 1``, or for a signal ``exited with code -9 (SIGKILL)``."""
    if code < 0:
        try:
            return f"exited with code {code} ({signal.Signals(-code).name})"
        except ValueError:
            pass
    return f"exited with code {code}"


@dataclass(frozen=True)
class RestartPolicy:
    """When a crashed service is started again, and when the launcher gives up on it.

    The n-th restart in a row waits ``first_delay * 2**(n-1)`` seconds, at most ``max_delay``;
    a service that has been healthy for ``stable_after`` seconds starts again from
    ``first_delay``. More than ``max_restarts`` crashes within ``window`` seconds is a crash
    loop: restarting it again would not help.
    """

    first_delay: float = 1.0
    max_delay: float = 30.0
    stable_after: float = 60.0
    max_restarts: int = 5
    window: float = 120.0

    def delay(self, restarts_in_a_row: int) -> float:
        """Seconds to wait before the restart that follows ``restarts_in_a_row`` others."""
        return min(self.first_delay * 2**restarts_in_a_row, self.max_delay)


@dataclass
class _Watch:
    service: Service
    healthy_since: float | None
    restarts_in_a_row: int = 0
    crashes: deque[float] = field(default_factory=deque)
    restart_at: float | None = None
    given_up: bool = False
    # Called once when a service added after the start (`Supervisor.add`) first answers.
    on_healthy: Callable[[], None] | None = None


class Supervisor:
    """Keeps started services running: one that exits is restarted alone, with backoff.

    Each restart is reported with the exit code and the service's log file. An essential
    service in a crash loop (see RestartPolicy) raises ServiceFailed; the caller then stops
    everything. One that is not essential is left stopped, and the others go on without it.

    Example:
        >>> supervisor = Supervisor(services)  # all started and healthy
        >>> while True:
        ...     supervisor.check()
        ...     time.sleep(1)
    """

    def __init__(
        self,
        services: list[Service],
        *,
        policy: RestartPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        report: Callable[[str], None] = print,
    ) -> None:
        self._policy = policy or RestartPolicy()
        self._clock = clock
        self._report = report
        now = clock()
        self._watches = [_Watch(service, healthy_since=now) for service in services]

    def add(self, service: Service, *, on_healthy: Callable[[], None] | None = None) -> None:
        """Watch ``service`` too, just started (the generator, once its build is done);
        ``on_healthy`` is called when it first answers its health URL."""
        self._watches.append(_Watch(service, healthy_since=None, on_healthy=on_healthy))

    def check(self) -> None:
        """Look at every service once: restart those that exited and whose wait is over.

        Raises:
            ServiceFailed: a service crash-loops, or could not be started again.
        """
        now = self._clock()
        for watch in self._watches:
            self._check(watch, now)

    def _check(self, watch: _Watch, now: float) -> None:
        service, policy = watch.service, self._policy
        if watch.given_up:
            return
        if watch.restart_at is not None:
            if now >= watch.restart_at:
                watch.restart_at = None
                self._restart(service)
            return
        code = service.exited()
        if code is None:
            if watch.healthy_since is None:
                if service.healthy():
                    watch.healthy_since = now
                    if watch.on_healthy is not None:
                        watch.on_healthy()
                        watch.on_healthy = None
                    else:
                        self._report(f"{service.name} is back up.")
            elif watch.restarts_in_a_row and now - watch.healthy_since >= policy.stable_after:
                watch.restarts_in_a_row = 0
            return
        service.kill_leftovers()
        watch.healthy_since = None
        watch.crashes.append(now)
        while watch.crashes and now - watch.crashes[0] > policy.window:
            watch.crashes.popleft()
        if len(watch.crashes) > policy.max_restarts:
            message = (
                f"{service.name} {describe_exit(code)}, {len(watch.crashes)} exits within "
                f"{policy.window:g} s: it keeps crashing, see {service.log_file}"
            )
            if service.essential:
                raise ServiceFailed(message)
            watch.given_up = True
            self._report(f"{message}; left stopped, the others go on without it.")
            return
        delay = policy.delay(watch.restarts_in_a_row)
        watch.restarts_in_a_row += 1
        watch.restart_at = now + delay
        self._report(
            f"{service.name} {describe_exit(code)}: see {service.log_file}; "
            f"restarting it in {delay:g} s."
        )

    def _restart(self, service: Service) -> None:
        try:
            service.start()
        except OSError as error:
            raise ServiceFailed(f"cannot restart {service.name}: {error}") from error
        pid = service.process.pid if service.process is not None else "?"
        self._report(f"{service.name} restarted (pid {pid}).")
