"""The offline checkers of deploy/ (`make deploy-tools`) and helpers that run them.

Docker Compose renders the compose file, Helm's Go SDK renders and lints the chart,
kubernetes-validate checks the manifests against Kubernetes' schemas, hadolint the
Dockerfiles. None needs a Docker engine or a cluster. Without them a test skips locally
and fails in CI, where `make test` installs them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.profile import ACCOUNT_SECRETS
from bot.secrets import SECRET_NAMES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CHART = DEPLOY / "helm" / "erp-assistant"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
TOOLS = ROOT / "var" / "deploy-tools"
TOOLS_PYTHON = TOOLS / "venv" / "bin" / "python"
COMPOSE = TOOLS / "bin" / "docker-compose"
HADOLINT = TOOLS / "venv" / "bin" / "hadolint"
KUBERNETES_VALIDATE = TOOLS / "venv" / "bin" / "kubernetes-validate"
RENDER = Path(__file__).with_name("render_chart.py")
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schemas.
KUBERNETES_VERSIONS = ("1.27.0", "1.37.0")

# A variable whose value is a secret: never a literal in a committed file, never in a
# ConfigMap, always from the deployment's secret. GATEWAY_DATABASE_URL and
# ACTIONS_STATE_DATABASE_URL name no password (GATEWAY_DATABASE_PASSWORD and
# ACTIONS_STATE_DATABASE_PASSWORD hold them, bot/profile.py), like RATE_LIMIT_REDIS_URL.
SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSWORD|_PASS$|API_KEYS|(?<!^GATEWAY_)(?<!^ACTIONS_STATE_)DATABASE_URL"
    r"|ADMIN_URL"
)
# The shared secrets and the production profile's account passwords, as the code names them.
CODE_SECRETS = (*SECRET_NAMES, *ACCOUNT_SECRETS)

DUMMY_SECRETS = {
    "RASA_TOKEN": "dummy-rasa-token",
    "ACTION_SERVER_TOKEN": "dummy-action-server-token",
    "GATEWAY_INTERNAL_TOKEN": "dummy-gateway-internal-token",
    "GENERATOR_TOKEN": "dummy-generator-token",
    "VERIFICATION_SECRET": "dummy-verification-secret",
    "WEB_SESSION_SECRET": "dummy-web-session-secret",
    "METRICS_TOKEN": "dummy-metrics-token",
    "RASA_TRACKER_PG_PASSWORD": "dummy-tracker-password",
    "RASA_LOCK_REDIS_PASSWORD": "dummy-lock-password",
    "RASA_EVENTS_PASSWORD": "dummy-events-password",
    "RASA_EVENTS_READER_PASSWORD": "dummy-reader-password",
    "GATEWAY_REDIS_PASSWORD": "dummy-gateway-redis-password",
    "GATEWAY_DATABASE_PASSWORD": "dummy-gateway-database-password",
    "ACTIONS_STATE_DATABASE_PASSWORD": "dummy-actions-state-password",
    "ANALYTICS_EVENTS_PASSWORD": "dummy-analytics-events-password",
    "ERP_DATABASE_URL": "postgresql+psycopg://erp_reader:dummy@erp.example:5432/erp",
}
ADMIN_SECRETS = {
    "PRODUCTION_POSTGRES_ADMIN_URL": "postgresql://postgres:dummy@pg.example:5432/postgres",
    "PRODUCTION_REDIS_ADMIN_URL": "redis://:dummy@redis.example:6379/0",
    "RABBITMQ_ADMIN_USER": "admin",
    "RABBITMQ_ADMIN_PASSWORD": "dummy-rabbitmq-admin",
}
COMPOSE_SECRETS = {
    **{name: value for name, value in DUMMY_SECRETS.items() if name != "ERP_DATABASE_URL"},
    "ERP_DATABASE_URL": "postgresql+psycopg://postgres:dummy-pg@postgres:5432/erp",
    "POSTGRES_PASSWORD": "dummy-pg",
    "REDIS_ADMIN_PASSWORD": "dummy-redis-admin",
    "RABBITMQ_ADMIN_PASSWORD": "dummy-rabbitmq-admin",
}


def require_tools() -> None:
    """Skip locally, fail in CI, when `make deploy-tools` has not run."""
    missing = [
        str(path.relative_to(ROOT))
        for path in (TOOLS_PYTHON, COMPOSE, HADOLINT, KUBERNETES_VALIDATE)
        if not path.exists()
    ]
    if missing:
        message = f"deploy tools missing ({', '.join(missing)}): run `make deploy-tools`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def tools() -> None:
    """The checkers of `make deploy-tools` (a skip locally without them, a failure in CI)."""
    require_tools()


# --- Compose ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ComposeResult:
    returncode: int
    config: dict[str, Any]
    stderr: str


def compose_config(env: Mapping[str, str], tmp_path: Path) -> ComposeResult:
    """`docker compose config` of deploy/docker-compose.yml with only ``env`` set.

    The variables go in an env file, and the process environment holds none of them, so a
    variable the test leaves out is missing (deploy/.env, if a developer has one, is not read).
    """
    env_file = tmp_path / "compose.env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in env.items()))
    clean = {
        key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG", "TMPDIR")
    }
    done = subprocess.run(
        [
            str(COMPOSE),
            "--env-file",
            str(env_file),
            "--project-directory",
            str(DEPLOY),
            "-f",
            str(COMPOSE_FILE),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean,
        check=False,
    )
    config = json.loads(done.stdout) if done.returncode == 0 else {}
    return ComposeResult(done.returncode, config, done.stderr)


# --- Helm ------------------------------------------------------------------------------


def chart_values(**overrides: Any) -> dict[str, Any]:
    """Values an operator would give: the services' hosts and every secret (dummies)."""
    values: dict[str, Any] = {
        "postgresql": {"host": "pg.example"},
        "redis": {"host": "redis.example"},
        "rabbitmq": {"host": "mq.example", "managementUrl": "http://mq.example:15672"},
        "secrets": {"values": {**DUMMY_SECRETS, **ADMIN_SECRETS}},
    }
    values.update(overrides)
    return values


@dataclass(frozen=True)
class Rendered:
    """The chart's manifests by template, and as parsed Kubernetes objects."""

    manifests: dict[str, str]

    @property
    def objects(self) -> list[dict[str, Any]]:
        return [
            doc
            for text in self.manifests.values()
            if text.strip()
            for doc in yaml.safe_load_all(text)
            if doc
        ]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [obj for obj in self.objects if obj["kind"] == kind]

    def named(self, kind: str, suffix: str) -> dict[str, Any]:
        (found,) = [obj for obj in self.of_kind(kind) if obj["metadata"]["name"].endswith(suffix)]
        return found


def helm_render(values: Mapping[str, Any]) -> Rendered | str:
    """Render the chart with Helm's engine: the manifests, or Helm's error message."""
    done = subprocess.run(
        [str(TOOLS_PYTHON), str(RENDER), "render", str(CHART), json.dumps(values)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(done.stdout)
    if "error" in result:
        return str(result["error"])
    manifests = {name: text for name, text in result["manifests"].items() if name.endswith(".yaml")}
    return Rendered(manifests)


def rendered(values: Mapping[str, Any]) -> Rendered:
    result = helm_render(values)
    assert isinstance(result, Rendered), f"the chart did not render: {result}"
    return result


def containers(obj: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The containers of a Deployment's or a Job's pod."""
    yield from obj["spec"]["template"]["spec"]["containers"]


def pod_env(rendered: Rendered, container: Mapping[str, Any]) -> dict[str, str]:
    """A container's environment as Kubernetes would set it: its ConfigMap's data, then its
    own variables; one from a secret reads ``secret:<secret name>/<key>``."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        configmap = source["configMapRef"]["name"]
        (found,) = [c for c in rendered.of_kind("ConfigMap") if c["metadata"]["name"] == configmap]
        env.update(found["data"])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = f"secret:{ref['name']}/{ref['key']}"
    return env
