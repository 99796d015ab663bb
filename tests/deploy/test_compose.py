"""deploy/docker-compose.yml, rendered by Docker Compose v2 itself (`config`, no engine), and
deploy/haproxy.cfg, the balancer in front of the gateway's replicas."""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from bot.balancer import BalancerMissing, Gateway, haproxy_command
from bot.profile import ACCOUNT_SECRETS, Production
from connectors.settings import GatewaySettings
from tests.deploy.conftest import (
    CODE_SECRETS,
    COMPOSE_FILE,
    COMPOSE_SECRETS,
    DEPLOY,
    SECRET_NAME,
    compose_config,
)

pytestmark = pytest.mark.usefixtures("tools")

INFRA = ("postgres", "redis", "rabbitmq")
APP = ("provision", "generator", "actions", "rasa", "gateway", "balancer")
HAPROXY_CONFIG = DEPLOY / "haproxy.cfg"
REQUIRED = sorted(COMPOSE_SECRETS)


def test_renders_with_every_secret_set(tmp_path: Path) -> None:
    result = compose_config(COMPOSE_SECRETS, tmp_path)

    assert result.returncode == 0, result.stderr
    assert sorted(result.config["services"]) == sorted(INFRA + APP)


@pytest.mark.parametrize("missing", REQUIRED, ids=REQUIRED)
def test_a_missing_secret_stops_compose_with_its_name(missing: str, tmp_path: Path) -> None:
    env = {name: value for name, value in COMPOSE_SECRETS.items() if name != missing}

    result = compose_config(env, tmp_path)

    assert result.returncode != 0
    assert f"required variable {missing} is missing a value" in result.stderr


def test_an_empty_secret_counts_as_missing(tmp_path: Path) -> None:
    result = compose_config({**COMPOSE_SECRETS, "RASA_TOKEN": ""}, tmp_path)

    assert result.returncode != 0
    assert "RASA_TOKEN" in result.stderr


def test_no_secret_value_is_written_in_the_file() -> None:
    """Every secret-looking variable of the committed file is an interpolation, with no
    default but the empty one (optional channels)."""
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    literal = []
    for name, service in raw["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if key == "<<" or not SECRET_NAME.search(key):
                continue
            text = str(value)
            if not re.fullmatch(r"(?:[^$]*\$\{[A-Z_]+(?::\?[^}]*|:-)\}[^$]*)+", text):
                literal.append(f"{name}.{key}={text}")
    assert literal == []


def test_the_code_s_secrets_are_required_wherever_they_are_used() -> None:
    raw = COMPOSE_FILE.read_text()
    for name in CODE_SECRETS:
        uses = re.findall(r"\$\{" + name + r"(:[?-])", raw)
        assert uses, f"{name} is not used"
        assert set(uses) == {":?"}, f"{name} has a default somewhere"


def test_rasa_gets_the_production_profile_of_bot_profile(tmp_path: Path) -> None:
    """The names Rasa is given are those bot/profile.py derives (and provision creates)."""
    config = compose_config(COMPOSE_SECRETS, tmp_path).config
    rasa = config["services"]["rasa"]
    profile = Production(
        postgres_admin_url="postgresql://postgres@postgres:5432/postgres",
        redis_admin_url="redis://redis:6379/0",
        rabbitmq_host="rabbitmq",
        name=config["services"]["provision"]["environment"]["PRODUCTION_NAME"],
    )
    expected = profile.rasa_environment(COMPOSE_SECRETS)
    expected.pop("RASA_ENDPOINTS_FILE")  # the command names the file instead

    assert {key: rasa["environment"].get(key) for key in expected} == expected
    gateway = config["services"]["gateway"]["environment"]
    shared_limits = profile.gateway_environment(COMPOSE_SECRETS)
    assert {key: gateway.get(key) for key in shared_limits} == shared_limits
    assert rasa["command"][rasa["command"].index("--endpoints") + 1] == (
        "bot/endpoints.production.yml"
    )


def test_the_action_servers_share_the_database_provision_creates(tmp_path: Path) -> None:
    """The action server's state database is the one bot/profile.py derives from the
    provisioning job's own settings (and so the one it creates), with that job's password;
    the gateway reads the audit trail there (the agent console's audit panel)."""
    services = compose_config(COMPOSE_SECRETS, tmp_path).config["services"]
    provision = services["provision"]["environment"]
    expected = Production.from_env(provision).actions_environment(COMPOSE_SECRETS)

    assert expected["ACTIONS_STATE_DATABASE_URL"] == (
        "postgresql://erp_assistant_actions@postgres:5432/erp_assistant_actions"
    )
    for name in ("actions", "gateway"):
        env = services[name]["environment"]
        assert {key: env.get(key) for key in expected} == expected, name
    password = COMPOSE_SECRETS["ACTIONS_STATE_DATABASE_PASSWORD"]
    assert provision["ACTIONS_STATE_DATABASE_PASSWORD"] == password


def test_the_gateway_reads_the_trackers_with_the_account_provision_creates(
    tmp_path: Path,
) -> None:
    """The analytics page reads Rasa's trackers with the read-only role bot/profile.py derives
    from the provisioning job's settings, with that job's password, never with Rasa's."""
    services = compose_config(COMPOSE_SECRETS, tmp_path).config["services"]
    provision = services["provision"]["environment"]
    gateway = services["gateway"]["environment"]
    profile = Production.from_env(provision)

    assert gateway["ANALYTICS_EVENTS_URL"] == (
        "postgresql://erp_assistant_analytics@postgres:5432/erp_assistant_rasa"
    )
    assert profile.analytics_role == "erp_assistant_analytics"
    # deploy/provision.py refuses to run without every account's password.
    assert {name: provision.get(name) for name in ACCOUNT_SECRETS} == {
        name: COMPOSE_SECRETS[name] for name in ACCOUNT_SECRETS
    }
    assert gateway["ANALYTICS_EVENTS_PASSWORD"] == provision["ANALYTICS_EVENTS_PASSWORD"]
    assert "RASA_TRACKER_PG_PASSWORD" not in gateway


def test_every_process_is_hardened_and_health_checked(tmp_path: Path) -> None:
    services = compose_config(COMPOSE_SECRETS, tmp_path).config["services"]
    for name in APP:
        service = services[name]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        if name != "provision":
            assert service["healthcheck"]["test"], name


@pytest.mark.parametrize(
    ("service", "url"),
    [
        ("gateway", "http://127.0.0.1:8080/healthz"),
        ("rasa", "http://127.0.0.1:5005/"),
        ("actions", "http://127.0.0.1:5055/health"),
        ("generator", "http://127.0.0.1:5006/health"),
    ],
    ids=["gateway", "rasa", "actions", "generator"],
)
def test_each_health_check_asks_the_process_s_own_health_url(
    service: str, url: str, tmp_path: Path
) -> None:
    config = compose_config(COMPOSE_SECRETS, tmp_path).config["services"][service]

    assert url in " ".join(config["healthcheck"]["test"])


def test_processes_listen_beyond_loopback_only_inside_the_network(tmp_path: Path) -> None:
    services = compose_config(COMPOSE_SECRETS, tmp_path).config["services"]

    assert services["gateway"]["environment"]["HOST"] == "0.0.0.0"
    assert services["actions"]["environment"]["ACTION_SERVER_HOST"] == "0.0.0.0"
    assert services["generator"]["environment"]["GENERATOR_HOST"] == "0.0.0.0"
    assert "--interface" in services["rasa"]["command"]
    published = [name for name, service in services.items() if service.get("ports")]
    assert published == ["balancer"]
    assert services["balancer"]["ports"][0]["host_ip"] == "127.0.0.1"
    assert services["balancer"]["ports"][0]["target"] == 8080


def test_the_stack_waits_for_provisioning(tmp_path: Path) -> None:
    services = compose_config(COMPOSE_SECRETS, tmp_path).config["services"]

    for name in ("actions", "rasa"):
        condition = services[name]["depends_on"]["provision"]["condition"]
        assert condition == "service_completed_successfully", name
    for infra in INFRA:
        assert services["provision"]["depends_on"][infra]["condition"] == "service_healthy"


def test_the_gateway_runs_replicas_without_a_volume(tmp_path: Path) -> None:
    """Its state is in PostgreSQL and Redis: no SQLite file, so no volume to share."""
    config = compose_config(COMPOSE_SECRETS, tmp_path).config
    gateway = config["services"]["gateway"]

    assert gateway["deploy"]["replicas"] == 2
    assert "volumes" not in gateway
    assert "GATEWAY_DB" not in gateway["environment"]
    assert "gateway-state" not in config.get("volumes", {})
    assert gateway["depends_on"]["provision"]["condition"] == "service_completed_successfully"


def test_the_action_server_runs_replicas_without_a_volume(tmp_path: Path) -> None:
    """Its lockout counts and audit trail are in PostgreSQL: no SQLite file, no volume, and
    Rasa reaches the replicas by the service's DNS name."""
    config = compose_config(COMPOSE_SECRETS, tmp_path).config
    services = config["services"]
    actions = services["actions"]

    assert actions["deploy"]["replicas"] == 2
    assert "volumes" not in actions
    assert "actions-state" not in config.get("volumes", {})
    assert services["rasa"]["environment"]["ACTION_SERVER_URL"] == "http://actions:5055"
    assert actions["depends_on"]["provision"]["condition"] == "service_completed_successfully"


def test_no_process_is_given_a_sqlite_state_file(tmp_path: Path) -> None:
    """A SQLite path would be one container's alone: the shared database is used instead."""
    services = compose_config(COMPOSE_SECRETS, tmp_path).config["services"]

    for name in APP:
        env = services[name].get("environment", {})
        assert not {"ACTIONS_STATE_DB", "AUDIT_DB", "GATEWAY_DB"} & set(env), name
    assert services["actions"]["environment"]["ACTIONS_STATE_DATABASE_URL"].startswith(
        "postgresql://"
    )


@pytest.mark.parametrize(
    ("service", "variable"),
    [("gateway", "GATEWAY_REPLICAS"), ("actions", "ACTIONS_REPLICAS")],
    ids=["gateway", "actions"],
)
def test_the_number_of_replicas_is_a_setting(service: str, variable: str, tmp_path: Path) -> None:
    config = compose_config({**COMPOSE_SECRETS, variable: "4"}, tmp_path).config

    assert config["services"][service]["deploy"]["replicas"] == 4


@pytest.mark.parametrize(
    "env",
    [
        {},
        {
            "COMPOSE_SUBNET": "192.168.240.0/24",
            "COMPOSE_IP_RANGE": "192.168.240.64/26",
            "BALANCER_ADDRESS": "192.168.240.5",
        },
    ],
    ids=["default", "overridden"],
)
def test_the_gateway_trusts_forwarded_addresses_from_the_balancer_alone(
    env: dict[str, str], tmp_path: Path
) -> None:
    """The balancer has a fixed address that no other container may get, and it is the one
    the gateway believes X-Forwarded-For from: each client has its own rate-limit bucket."""
    config = compose_config({**COMPOSE_SECRETS, **env}, tmp_path).config
    services = config["services"]
    (ipam,) = config["networks"]["default"]["ipam"]["config"]
    address = services["balancer"]["networks"]["default"]["ipv4_address"]
    trusted = services["gateway"]["environment"]["TRUSTED_PROXIES"]
    subnet = ipaddress.IPv4Network(ipam["subnet"])
    others = ipaddress.IPv4Network(ipam["ip_range"])

    assert trusted == address
    assert GatewaySettings.from_env({"TRUSTED_PROXIES": trusted}).trusted_proxies == (address,)
    assert ipaddress.IPv4Address(address) in subnet
    assert others.subnet_of(subnet)
    assert ipaddress.IPv4Address(address) not in others
    if env:
        assert (ipam["subnet"], ipam["ip_range"], address) == (
            env["COMPOSE_SUBNET"],
            env["COMPOSE_IP_RANGE"],
            env["BALANCER_ADDRESS"],
        )


def test_the_balancer_serves_deploy_haproxy_cfg(tmp_path: Path) -> None:
    balancer = compose_config(COMPOSE_SECRETS, tmp_path).config["services"]["balancer"]

    (mount,) = balancer["volumes"]
    assert Path(mount["source"]) == HAPROXY_CONFIG
    assert mount["target"] == "/usr/local/etc/haproxy/haproxy.cfg"
    assert mount["read_only"] is True
    assert balancer["image"].startswith("haproxy:")
    assert "127.0.0.1/8404" in " ".join(balancer["healthcheck"]["test"])


def test_the_compose_balancer_has_the_launcher_s_gateway_policy() -> None:
    """deploy/haproxy.cfg finds the replicas through Docker's DNS; the rest is what
    bot/balancer.py writes for `REPLICAS=n make run`: stickiness, checks, addresses."""
    policy = [line.strip() for line in Gateway("127.0.0.1", 8080, [8101]).sections()]
    config = [line.strip() for line in HAPROXY_CONFIG.read_text().splitlines()]

    for line in (
        "option forwardfor",
        "use_backend gateway_socketio if { path_beg /socket.io/ }",
        "default_backend gateway_replicas",
        "balance leastconn",
        "option httpchk GET /healthz",
        "http-check expect rstatus ^(200|503)$",
        "timeout check 3s",
        "balance source",
        "hash-type consistent",
        "timeout tunnel 3600s",
    ):
        assert line in policy, line
        assert line in config, line
    assert "cookie erp_gateway insert indirect nocache httponly dynamic" in config
    assert "server-template gateway- 8 gateway:8080 check resolvers docker init-addr none" in (
        config
    )


def test_haproxy_accepts_the_compose_balancer_s_configuration() -> None:
    try:
        command = haproxy_command(HAPROXY_CONFIG)
    except BalancerMissing:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("HAProxy is not installed: `make balancer`")

    done = subprocess.run(
        [command[0], "-c", "-f", str(HAPROXY_CONFIG)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stdout + done.stderr
