"""Start the real assistant (Rasa, actions, gateway) once for the end-to-end tests."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from benchmarks.fake_platforms import FakePlatforms, serve
from bot import paths
from bot.processes import Service, build_services, stop_all, wait_until_healthy
from bot.secrets import shared_secrets
from bot.settings import Ports
from erp.db import get_engine


@dataclass
class Assistant:
    url: str
    services: list[Service]
    client: httpx.Client
    # The shared secrets the processes were given (RASA_TOKEN, ACTION_SERVER_TOKEN, ...).
    secrets: dict[str, str] = field(repr=False)

    def say(self, sender: str, text: str) -> list[dict]:
        response = self.client.post("/api/messages", json={"sender_id": sender, "text": text})
        assert response.status_code == 200, response.text
        return response.json()["messages"]

    def texts(self, sender: str, text: str) -> str:
        """The bot's replies to one turn, joined into one text."""
        return "\n".join(m.get("text") or "" for m in self.say(sender, text))

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)


@contextmanager
def start_assistant(
    work: Path, overrides: Mapping[str, str], *, replicas: int = 1
) -> Iterator[Assistant]:
    """Run Rasa, actions and the gateway on free ports with state in ``work``; stop on exit.

    ``overrides`` are environment settings for the processes on top of the defaults here;
    ``replicas`` > 1 runs that many Rasa and action servers behind HAProxy (needs the
    production profile's settings in ``overrides``).
    """
    if not paths.MODEL_FILE.exists():
        pytest.fail("no trained model: run `python -m bot train` (make test does)")
    ports = Ports.free()
    settings = {
        "RASA_TRACKER_DB": str(work / "tracker.db"),
        "GATEWAY_DB": str(work / "gateway.db"),
        # Verification lockouts of this run only, not those left in var/ by earlier runs.
        "ACTIONS_STATE_DB": str(work / "actions-state.db"),
        "AUDIT_DB": str(work / "audit.db"),
        # Conversation tests assert the ERP templates' exact facts; the generator's wording
        # is tested with fakes in tests/actions and the real model in tests/models.
        "GENERATOR_BACKEND": "off",
        # Every test talks from 127.0.0.1, one client to the gateway's per-client rate limit.
        "RATE_LIMIT_PER_MINUTE": "100000",
        "RATE_LIMIT_BURST": "100000",
        # ... and one client to the verification lockout: the English and Chinese
        # conversations' wrong identities add up past its 10 an hour. The lockouts themselves
        # are tested in tests/actions/test_lockout.py and by the adversarial suite.
        "LOCKOUT_CLIENT_FAILURES": "1000",
        **overrides,
    }
    previous = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    # The test run's own secrets, so that nothing depends on the developer's var/secrets.json.
    secrets = shared_secrets(work / "secrets.json")
    services = build_services(ports, logs_dir=work / "logs", secrets=secrets, replicas=replicas)
    # The services have their environment now; later tests see the generator as configured.
    _restore({"GENERATOR_BACKEND": previous["GENERATOR_BACKEND"]})
    try:
        for service in services:
            service.start()
        try:
            wait_until_healthy(services, timeout=300)
        except Exception:
            for service in services:
                print(f"--- {service.name} log ---")
                print(service.log_file.read_text(errors="replace")[-4000:])
            raise
        with httpx.Client(base_url=ports.gateway_url, timeout=60) as client:
            yield Assistant(ports.gateway_url, services, client, secrets)
    finally:
        stop_all(services)
        _restore(previous)


@contextmanager
def start_production(
    work: Path,
    name: str,
    lock_db: str,
    *,
    replicas: int = 1,
    overrides: Mapping[str, str] | None = None,
) -> Iterator[tuple[Assistant, dict[str, str]]]:
    """The assistant on PROFILE=production with its own PRODUCTION_NAME (an empty tracker
    database and event queue), and the passwords of the accounts the profile created;
    ``overrides``: more settings (the profile's included)."""
    from bot.launcher import prepare_profile
    from bot.profile import ACCOUNT_SECRETS, Production
    from bot.provision import reset

    env = {
        "PROFILE": "production",
        "PRODUCTION_NAME": name,
        "RASA_LOCK_REDIS_DB": lock_db,
        **(overrides or {}),
    }
    reset(Production.from_env(env))
    profile = prepare_profile(env, secrets_file=work / "secrets.json")
    passwords = shared_secrets(work / "secrets.json", environ={}, names=ACCOUNT_SECRETS)
    with start_assistant(work, {**env, **profile}, replicas=replicas) as assistant:
        yield assistant, passwords


# Slack staff of the shared assistant, one per role (docs/staff.md), and their signing secret.
SLACK_STAFF = {
    "sales": "U0SALES01",
    "warehouse": "U0WAREH01",
    "finance": "U0FINAN01",
    "support": "U0SUPPO01",
    "admin": "U0ADMIN01",
}
SLACK_SIGNING_SECRET = "e2e-slack-signing-secret"


@pytest.fixture(scope="session")
def slack_api() -> Iterator[tuple[FakePlatforms, str]]:
    """A stand-in of Slack's Web API that the shared assistant's Slack channel talks to."""
    platforms = FakePlatforms()
    with serve(platforms.app) as url:
        yield platforms, url


@pytest.fixture(scope="session")
def assistant(
    tmp_path_factory: pytest.TempPathFactory, slack_api: tuple[FakePlatforms, str]
) -> Iterator[Assistant]:
    _, platforms_url = slack_api
    slack = {
        "SLACK_BOT_TOKEN": "xoxb-e2e",
        "SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET,
        "SLACK_API_URL": f"{platforms_url}/slack-api/",
        "SLACK_STAFF_ROLES": ",".join(f"{user}={role}" for role, user in SLACK_STAFF.items()),
    }
    with start_assistant(tmp_path_factory.mktemp("assistant"), slack) as running:
        yield running


def _restore(previous: dict[str, str | None]) -> None:
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="module")
def db() -> Iterator[Session]:
    """A session on the e2e stack's ERP database (the conversations check answers against it)."""
    with Session(get_engine()) as session:
        yield session
