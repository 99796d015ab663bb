"""The assistant as the load test meets it: every process on free loopback ports, fresh state
in a work directory, the generator on or off, limits meant for many clients raised.

Example:
    >>> with load_stack(Path("var/bench/load/on"), generator=True) as stack:
    ...     print(stack.url, stack.logs_dir)
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bot import paths
from bot.processes import Service, build_services, stop_all, wait_until_healthy
from bot.secrets import shared_secrets
from bot.settings import Ports

STARTUP_TIMEOUT_S = 300.0


class StackFailed(RuntimeError):
    """The assistant did not start; the message says why, with the logs' tails."""


@dataclass
class LoadStack:
    """The running assistant: its gateway URL, processes and logs."""

    url: str
    services: list[Service]
    logs_dir: Path

    def down(self) -> list[str]:
        """Names of the services that have exited."""
        return [s.name for s in self.services if s.exited() is not None]

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by each service with every process of its session (the
        workers it started); empty where /proc cannot be read (not Linux)."""
        sessions = {s.process.pid: s.name for s in self.services if s.process is not None}
        used = dict.fromkeys(sessions.values(), 0.0)
        ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # Fields after the command's closing parenthesis: state is the 3rd field of
                # proc(5), session the 6th, utime and stime the 14th and 15th.
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:
                continue  # ended while being read
            name = sessions.get(int(fields[3]))
            if name is not None:
                used[name] += (int(fields[11]) + int(fields[12])) / ticks
        return used if Path("/proc/self/stat").exists() else {}


def stack_environment(work: Path, *, generator: bool) -> dict[str, str]:
    """What the processes get on top of the launcher's environment."""
    return {
        "RASA_TRACKER_DB": str(work / "tracker.db"),
        "GATEWAY_DB": str(work / "gateway.db"),
        "ACTIONS_STATE_DB": str(work / "actions-state.db"),
        "GENERATOR_BACKEND": "llama_cpp" if generator else "off",
        # Every simulated user comes from 127.0.0.1: one client to the gateway's rate limit
        # and to the per-client verification lockout, where real customers would be many.
        "RATE_LIMIT_PER_MINUTE": "100000",
        "RATE_LIMIT_BURST": "100000",
        "LOCKOUT_CLIENT_FAILURES": "100000",
    }


@contextmanager
def load_stack(
    work: Path,
    *,
    generator: bool,
    profile: Mapping[str, str] | None = None,
    replicas: int = 1,
) -> Iterator[LoadStack]:
    """Start the assistant with its state and logs in ``work``; stop it on exit.

    ``profile``: the production profile's environment (`bot.launcher.prepare_profile`);
    ``replicas``: Rasa and action servers behind HAProxy (with that profile).

    Raises:
        StackFailed: no trained model, or a process did not become healthy.
    """
    if not paths.MODEL_FILE.exists():
        raise StackFailed(f"no trained model at {paths.MODEL_FILE}: run `python -m bot setup`")
    work.mkdir(parents=True, exist_ok=True)
    settings = {**stack_environment(work, generator=generator), **(profile or {})}
    previous = {name: os.environ.get(name) for name in settings}
    # Set while the services are built too, for settings read at that moment.
    os.environ.update(settings)
    try:
        ports = Ports.free()
        services = build_services(
            ports,
            logs_dir=work / "logs",
            secrets=shared_secrets(work / "secrets.json"),
            generator=generator,
            replicas=replicas,
        )
        for service in services:
            service.env.update(settings)
        try:
            for service in services:
                service.start()
            try:
                wait_until_healthy(services, timeout=STARTUP_TIMEOUT_S)
            except Exception as error:
                tails = "\n".join(
                    f"--- {s.name} ---\n{s.log_file.read_text(errors='replace')[-3000:]}"
                    for s in services
                    if s.log_file.exists()
                )
                raise StackFailed(f"{error}\n{tails}") from error
            yield LoadStack(ports.gateway_url, services, work / "logs")
        finally:
            stop_all(services)
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
