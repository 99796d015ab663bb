"""The assistant as the suite attacks it: Rasa, the actions and the gateway on free loopback
ports (no generator: templated answers), every channel on (Telegram and Slack against local
stand-ins of their APIs), fresh state.

Example:
    >>> with attack_stack(Path("/tmp/security")) as stack:
    ...     outcomes = run_all(attempts, stack.endpoints, stack.platforms)
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.adversary.cast import CLIENT_LIMIT, RECORD_LIMIT
from benchmarks.adversary.channels import Endpoints
from benchmarks.fake_platforms import FakePlatforms, serve
from bot import paths
from bot.processes import Service, build_services, stop_all, wait_until_healthy
from bot.secrets import SECRET_NAMES
from bot.settings import Ports

STARTUP_TIMEOUT_S = 300.0


class StackFailed(RuntimeError):
    """The assistant could not be started for the suite; the message says why."""


@dataclass
class Stack:
    """The running assistant, what the suite reaches it by, and the fake platforms."""

    endpoints: Endpoints
    platforms: FakePlatforms
    services: list[Service]

    def alive(self) -> list[str]:
        """Names of the services still running."""
        return [s.name for s in self.services if s.exited() is None]


def stack_environment(work: Path, platforms_url: str) -> dict[str, str]:
    """What the processes get on top of the launcher's environment: fresh state in ``work``,
    the generator off (the ERP templates state facts exactly), Telegram and Slack on."""
    return {
        "RASA_TRACKER_DB": str(work / "tracker.db"),
        "GATEWAY_DB": str(work / "gateway.db"),
        "ACTIONS_STATE_DB": str(work / "actions-state.db"),
        "GENERATOR_BACKEND": "off",
        "HANDOFF_SUMMARY": "extractive",
        "TELEGRAM_BOT_TOKEN": "123456:SECURITY-suite",
        "TELEGRAM_WEBHOOK_SECRET": secrets.token_urlsafe(24),
        "TELEGRAM_MODE": "webhook",
        "TELEGRAM_API_URL": platforms_url,
        "TELEGRAM_WEBHOOK_URL": "",
        "SLACK_BOT_TOKEN": "xoxb-security-suite",
        "SLACK_SIGNING_SECRET": secrets.token_urlsafe(24),
        "SLACK_API_URL": f"{platforms_url}/slack-api/",
        "SLACK_STAFF_USER_IDS": "",
        "SLACK_AGENT_CHANNEL": "",
        # Lockouts as shipped, stated so the brute force knows how far to go.
        "LOCKOUT_RECORD_FAILURES": str(RECORD_LIMIT),
        "LOCKOUT_CLIENT_FAILURES": str(CLIENT_LIMIT),
        # Rate limits are not what is tested here; keep them out of the way.
        "RATE_LIMIT_PER_MINUTE": "600",
        "RATE_LIMIT_BURST": "100",
        "GATEWAY_API_KEYS": "",
    }


@contextmanager
def attack_stack(work: Path, *, extra_env: Mapping[str, str] | None = None) -> Iterator[Stack]:
    """Start the assistant for the suite; stop it (and the fake platforms) on exit.

    Raises:
        StackFailed: no trained model, or a service did not become healthy (its log's tail
            is in the message).
    """
    if not paths.MODEL_FILE.exists():
        raise StackFailed("no trained model: run `python -m bot setup` (make test does)")
    work.mkdir(parents=True, exist_ok=True)
    platforms = FakePlatforms()
    with serve(platforms.app) as platforms_url:
        ports = Ports.free()
        shared = {name: secrets.token_urlsafe(32) for name in SECRET_NAMES}
        services = build_services(ports, logs_dir=work / "logs", secrets=shared, generator=False)
        env = {**stack_environment(work, platforms_url), **(extra_env or {})}
        for service in services:
            service.env.update(env)
        try:
            for service in services:
                service.start()
            try:
                wait_until_healthy(services, timeout=STARTUP_TIMEOUT_S)
                _wait_for_telegram(platforms)
            except Exception as error:
                tails = "\n".join(
                    f"--- {s.name} ---\n{s.log_file.read_text(errors='replace')[-3000:]}"
                    for s in services
                    if s.log_file.exists()
                )
                raise StackFailed(f"{error}\n{tails}") from error
            yield Stack(
                Endpoints(
                    gateway_url=ports.gateway_url,
                    rasa_url=ports.rasa_url,
                    actions_url=ports.action_server_url,
                    telegram_secret=env["TELEGRAM_WEBHOOK_SECRET"],
                    slack_signing_secret=env["SLACK_SIGNING_SECRET"],
                    slack_response_url=f"{platforms_url}/slack-response",
                    gateway_db=env["GATEWAY_DB"],
                    tracker_db=env["RASA_TRACKER_DB"],
                ),
                platforms,
                services,
            )
        finally:
            stop_all(services)


def _wait_for_telegram(platforms: FakePlatforms, timeout: float = 30.0) -> None:
    """The Telegram channel answers webhooks once its getMe went through."""
    platforms.wait_for(lambda calls: any(c.method == "getMe" for c in calls), timeout=timeout)
    time.sleep(0.5)
