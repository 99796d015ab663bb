"""deploy/helm/erp-assistant, rendered and linted by Helm's own Go SDK (v4), offline."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.profile import ACCOUNT_SECRETS, Production
from connectors.settings import GatewaySettings
from tests.deploy.conftest import (
    ADMIN_SECRETS,
    CHART,
    CODE_SECRETS,
    DUMMY_SECRETS,
    KUBERNETES_VALIDATE,
    KUBERNETES_VERSIONS,
    RENDER,
    SECRET_NAME,
    TOOLS_PYTHON,
    Rendered,
    chart_values,
    containers,
    helm_render,
    pod_env,
    rendered,
    require_tools,
)

pytestmark = pytest.mark.usefixtures("tools")

COMPONENTS = ("gateway", "rasa", "actions", "generator")


@pytest.fixture(scope="module")
def chart() -> Rendered:
    require_tools()
    return rendered(chart_values())


def workloads(chart: Rendered) -> list[dict[str, Any]]:
    return chart.of_kind("Deployment") + chart.of_kind("Job")


def deployment(chart: Rendered, component: str) -> dict[str, Any]:
    return chart.named("Deployment", f"-{component}")


def test_helm_lint_strict_finds_nothing_to_fix() -> None:
    done = subprocess.run(
        [str(TOOLS_PYTHON), str(RENDER), "lint", str(CHART), json.dumps(chart_values())],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(done.stdout)

    assert report["errors"] == []
    # 1 is "info" (an icon is recommended); 2 warnings and 3 errors would fail an install.
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_are_valid_kubernetes_objects(
    chart: Rendered, version: str, tmp_path: Path
) -> None:
    """Strict: an unknown field (a typo in a probe, say) fails like a wrong type."""
    files = []
    for name, text in chart.manifests.items():
        path = tmp_path / Path(name).name
        path.write_text(text)
        files.append(str(path))

    done = subprocess.run(
        [str(KUBERNETES_VALIDATE), "--strict", "--quiet", "-k", version, *files],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    kinds = sorted({obj["kind"] for obj in chart.objects})
    assert kinds == [
        "ConfigMap",
        "Deployment",
        "Job",
        "PodDisruptionBudget",
        "Secret",
        "Service",
    ]


def test_the_schema_check_catches_a_misspelt_field(chart: Rendered, tmp_path: Path) -> None:
    """The validator itself: the gateway with `readinessProbe` misspelt is refused."""
    gateway = deployment(chart, "gateway")
    container = gateway["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(gateway))

    done = subprocess.run(
        [str(KUBERNETES_VALIDATE), "--strict", "--quiet", "-k", KUBERNETES_VERSIONS[0], str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode != 0
    assert "readinesProbe" in done.stdout + done.stderr


@pytest.mark.parametrize(
    "missing",
    [*sorted(DUMMY_SECRETS), *sorted(ADMIN_SECRETS)],
    ids=[*sorted(DUMMY_SECRETS), *sorted(ADMIN_SECRETS)],
)
def test_a_missing_secret_stops_the_install_with_its_name(missing: str) -> None:
    values = chart_values()
    values["secrets"]["values"] = {
        name: value for name, value in {**DUMMY_SECRETS, **ADMIN_SECRETS}.items() if name != missing
    }

    error = helm_render(values)

    assert isinstance(error, str)
    assert f"secrets.values.{missing} is required" in error


def test_without_provisioning_no_administrator_secret_is_needed() -> None:
    values = chart_values(provision={"enabled": False})
    values["secrets"]["values"] = dict(DUMMY_SECRETS)

    chart = rendered(values)

    assert chart.of_kind("Job") == []
    (secret,) = chart.of_kind("Secret")
    assert not set(ADMIN_SECRETS) & set(secret["data"])


@pytest.mark.parametrize("service", ["postgresql", "redis", "rabbitmq"])
def test_each_external_service_must_be_named(service: str) -> None:
    values = chart_values()
    values[service] = {**values[service], "host": ""}

    error = helm_render(values)

    assert isinstance(error, str)
    assert f"{service}.host is required" in error


def test_an_existing_secret_is_referenced_and_none_is_made() -> None:
    chart = rendered(chart_values(secrets={"existingSecret": "acme-erp-assistant"}))

    assert chart.of_kind("Secret") == []
    refs = {
        item["valueFrom"]["secretKeyRef"]["name"]
        for workload in workloads(chart)
        for container in containers(workload)
        for item in container.get("env", [])
        if "valueFrom" in item
    }
    assert refs == {"acme-erp-assistant"}


def test_every_secret_comes_from_the_secret_and_none_from_the_configmap(chart: Rendered) -> None:
    for workload in workloads(chart):
        for container in containers(workload):
            for item in container.get("env", []):
                if SECRET_NAME.search(item["name"]):
                    assert "secretKeyRef" in item.get("valueFrom", {}), item["name"]
    for configmap in chart.of_kind("ConfigMap"):
        assert [key for key in configmap["data"] if SECRET_NAME.search(key)] == []


def test_a_secret_in_config_is_refused() -> None:
    error = helm_render(chart_values(config={"SLACK_BOT_TOKEN": "xoxb-oops"}))

    assert isinstance(error, str)
    assert "config.SLACK_BOT_TOKEN looks like a secret" in error


def test_each_process_gets_only_the_secrets_it_uses(chart: Rendered) -> None:
    def secrets_of(component: str) -> set[str]:
        env = pod_env(chart, next(containers(deployment(chart, component))))
        return {name for name, value in env.items() if value.startswith("secret:")}

    assert secrets_of("rasa") == {
        "RASA_TOKEN",
        "ACTION_SERVER_TOKEN",
        "RASA_TRACKER_PG_PASSWORD",
        "RASA_LOCK_REDIS_PASSWORD",
        "RASA_EVENTS_PASSWORD",
    }
    assert secrets_of("generator") == {"GENERATOR_TOKEN"}
    assert "VERIFICATION_SECRET" in secrets_of("actions")
    assert "WEB_SESSION_SECRET" in secrets_of("gateway")
    for component in COMPONENTS:
        assert not set(ADMIN_SECRETS) & secrets_of(component), component
    every = set().union(*(secrets_of(component) for component in COMPONENTS))
    assert set(CODE_SECRETS) - {"RASA_EVENTS_READER_PASSWORD"} <= every


def test_rasa_gets_the_production_profile_of_bot_profile() -> None:
    """The names Rasa and the gateway are given are those bot/profile.py derives (and
    provision creates)."""
    values = chart_values(productionName="acme_bot")
    values["postgresql"] = {"host": "pg.acme", "port": 6432}
    values["redis"] = {"host": "redis.acme", "port": 6380, "lockDb": 3}
    values["rabbitmq"] = {"host": "mq.acme", "port": 5671, "managementUrl": "https://mq.acme:15671"}
    chart = rendered(values)
    env = pod_env(chart, next(containers(deployment(chart, "rasa"))))
    secret = chart.named("Secret", "-secrets")["metadata"]["name"]
    profile = Production(
        postgres_admin_url="postgresql://admin@pg.acme:6432/postgres",
        redis_admin_url="redis://redis.acme:6380/0",
        lock_db=3,
        rabbitmq_host="mq.acme",
        rabbitmq_port=5671,
        name="acme_bot",
    )
    passwords = {name: f"secret:{secret}/{name}" for name in CODE_SECRETS}
    expected = profile.rasa_environment(passwords)
    expected.pop("RASA_ENDPOINTS_FILE")  # the command names the file instead

    assert {key: env.get(key) for key in expected} == expected
    gateway = pod_env(chart, next(containers(deployment(chart, "gateway"))))
    shared_limits = profile.gateway_environment(passwords)
    assert {key: gateway.get(key) for key in shared_limits} == shared_limits


def test_the_action_servers_share_the_database_provision_creates() -> None:
    """The action server's state database is the one bot/profile.py derives for the same
    PostgreSQL server and productionName (the one the provisioning job creates), its password
    from the secret; the gateway reads the audit trail there, Rasa and the generator never."""
    values = chart_values(productionName="acme_bot")
    values["postgresql"] = {"host": "pg.acme", "port": 6432}
    chart = rendered(values)
    secret = chart.named("Secret", "-secrets")["metadata"]["name"]
    profile = Production.from_env(
        {
            "PRODUCTION_NAME": "acme_bot",
            "PRODUCTION_POSTGRES_ADMIN_URL": "postgresql://admin@pg.acme:6432/postgres",
        }
    )
    password = f"secret:{secret}/ACTIONS_STATE_DATABASE_PASSWORD"
    expected = profile.actions_environment({"ACTIONS_STATE_DATABASE_PASSWORD": password})

    assert expected["ACTIONS_STATE_DATABASE_URL"] == (
        "postgresql://acme_bot_actions@pg.acme:6432/acme_bot_actions"
    )
    for component in ("actions", "gateway"):
        env = pod_env(chart, next(containers(deployment(chart, component))))
        assert {key: env.get(key) for key in expected} == expected, component
    for component in ("rasa", "generator"):
        env = pod_env(chart, next(containers(deployment(chart, component))))
        assert "ACTIONS_STATE_DATABASE_PASSWORD" not in env, component
    (job,) = chart.of_kind("Job")
    assert pod_env(chart, next(containers(job)))["ACTIONS_STATE_DATABASE_PASSWORD"] == password


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_deployment_has_startup_readiness_and_liveness_probes(
    chart: Rendered, component: str
) -> None:
    for container in containers(deployment(chart, component)):
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["port"] == "http", (component, probe)


@pytest.mark.parametrize(
    ("component", "readiness", "liveness", "port"),
    [
        # Liveness on / for the gateway: /healthz fails whenever Rasa or the ERP is down,
        # and restarting the gateway for that would drop every open chat.
        ("gateway", "/healthz", "/", 8080),
        # Rasa's /status needs the token; / answers "Hello from Rasa" to anyone.
        ("rasa", "/", "/", 5005),
        ("actions", "/health", "/health", 5055),
        ("generator", "/health", "/health", 5006),
    ],
    ids=COMPONENTS,
)
def test_probes_ask_each_process_s_health_url(
    chart: Rendered, component: str, readiness: str, liveness: str, port: int
) -> None:
    (container,) = containers(deployment(chart, component))

    assert container["readinessProbe"]["httpGet"]["path"] == readiness
    assert container["livenessProbe"]["httpGet"]["path"] == liveness
    assert container["ports"] == [{"name": "http", "containerPort": port}]


@pytest.mark.parametrize(
    ("component", "module"),
    [
        ("gateway", "connectors"),
        ("rasa", "bot.rasa_server"),
        ("actions", "actions.server"),
        ("generator", "models.server"),
    ],
    ids=COMPONENTS,
)
def test_each_process_is_started_as_bot_processes_starts_it(
    chart: Rendered, component: str, module: str
) -> None:
    (container,) = containers(deployment(chart, component))
    command = container["command"]
    env = pod_env(chart, container)

    assert command[:3] == ["python", "-m", module]
    if component == "rasa":
        assert command[command.index("--endpoints") + 1] == "bot/endpoints.production.yml"
        assert command[command.index("--interface") + 1] == "0.0.0.0"
        assert "--enable-api" in command
    else:
        host = {"gateway": "HOST", "actions": "ACTION_SERVER_HOST", "generator": "GENERATOR_HOST"}[
            component
        ]
        assert env[host] == "0.0.0.0"


def test_replica_defaults_run_every_stateless_process_twice(chart: Rendered) -> None:
    """The gateway, Rasa and the actions keep their state in the shared services; the
    generator holds one model per replica."""
    replicas = {c: deployment(chart, c)["spec"]["replicas"] for c in COMPONENTS}

    assert replicas == {"gateway": 2, "rasa": 2, "actions": 2, "generator": 1}
    for component in ("gateway", "rasa", "actions"):
        assert chart.named("PodDisruptionBudget", f"-{component}")["spec"]["minAvailable"] == 1
        strategy = deployment(chart, component)["spec"]["strategy"]
        assert strategy == {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
        }, component


@pytest.mark.parametrize("component", ["gateway", "actions"])
def test_no_state_is_kept_on_a_volume(chart: Rendered, component: str) -> None:
    """The gateway's state is in its PostgreSQL database and Redis, the action server's in
    its PostgreSQL database: no SQLite file, no claim."""
    pod = deployment(chart, component)["spec"]["template"]["spec"]
    (container,) = pod["containers"]

    assert [volume["name"] for volume in pod["volumes"]] == ["tmp"]
    assert [mount["mountPath"] for mount in container["volumeMounts"]] == ["/tmp"]
    assert not {"GATEWAY_DB", "ACTIONS_STATE_DB", "AUDIT_DB"} & set(pod_env(chart, container))
    assert chart.of_kind("PersistentVolumeClaim") == []


def test_the_gateway_gets_its_database_and_socketio_redis() -> None:
    chart = rendered(chart_values(productionName="acme_bot"))
    env = pod_env(chart, next(containers(deployment(chart, "gateway"))))
    secret = chart.named("Secret", "-secrets")["metadata"]["name"]

    assert (
        env["GATEWAY_DATABASE_URL"]
        == "postgresql://acme_bot_gateway@pg.example:5432/acme_bot_gateway"
    )
    assert env["GATEWAY_DATABASE_PASSWORD"] == f"secret:{secret}/GATEWAY_DATABASE_PASSWORD"
    assert env["SOCKETIO_REDIS_URL"] == "redis://acme_bot_gateway@redis.example:6379/1"


def test_the_gateway_reads_the_trackers_with_the_account_provision_creates(
    chart: Rendered,
) -> None:
    """The analytics page reads Rasa's trackers with the read-only role the provisioning job
    creates, with the same password from the secret, never with Rasa's."""
    (job,) = chart.of_kind("Job")
    job_env = pod_env(chart, next(containers(job)))
    gateway = pod_env(chart, next(containers(deployment(chart, "gateway"))))
    secret = chart.named("Secret", "-secrets")["metadata"]["name"]

    assert gateway["ANALYTICS_EVENTS_URL"] == (
        "postgresql://erp_assistant_analytics@pg.example:5432/erp_assistant_rasa"
    )
    # deploy/provision.py refuses to run without every account's password.
    assert {name: job_env.get(name) for name in ACCOUNT_SECRETS} == {
        name: f"secret:{secret}/{name}" for name in ACCOUNT_SECRETS
    }
    assert gateway["ANALYTICS_EVENTS_PASSWORD"] == job_env["ANALYTICS_EVENTS_PASSWORD"]
    assert "RASA_TRACKER_PG_PASSWORD" not in gateway


@pytest.mark.parametrize(
    ("trusted", "variable"),
    [
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("10.0.0.0/8,fd00::/8", "10.0.0.0/8,fd00::/8"),
        (["10.0.0.0/8", "fd00::/8"], "10.0.0.0/8,fd00::/8"),
    ],
    ids=["one", "comma-separated", "list"],
)
def test_the_gateway_believes_forwarded_addresses_from_the_configured_proxies(
    trusted: str | list[str], variable: str
) -> None:
    gateway = {"replicaCount": 2, "port": 8080, "trustedProxies": trusted}
    chart = rendered(chart_values(gateway=gateway))
    env = pod_env(chart, next(containers(deployment(chart, "gateway"))))
    settings = GatewaySettings.from_env({"TRUSTED_PROXIES": env["TRUSTED_PROXIES"]})

    assert env["TRUSTED_PROXIES"] == variable
    assert settings.trusted_proxies == tuple(variable.split(","))
    for name in ("rasa", "actions", "generator"):
        assert "TRUSTED_PROXIES" not in pod_env(chart, next(containers(deployment(chart, name))))


def test_by_default_the_gateway_keeps_its_own_trusted_proxies(chart: Rendered) -> None:
    """Unset: the code's default (loopback only)."""
    env = pod_env(chart, next(containers(deployment(chart, "gateway"))))

    assert "TRUSTED_PROXIES" not in env


def test_socketio_sessions_stay_on_one_gateway_pod_through_the_service(chart: Rendered) -> None:
    service = chart.named("Service", "-gateway")["spec"]

    assert service["sessionAffinity"] == "ClientIP"
    assert service["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] == 10800


def test_session_affinity_can_be_left_to_the_ingress() -> None:
    gateway = {
        "replicaCount": 2,
        "port": 8080,
        "service": {"type": "ClusterIP", "sessionAffinity": "None"},
    }
    service = rendered(chart_values(gateway=gateway)).named("Service", "-gateway")["spec"]

    assert service["sessionAffinity"] == "None"
    assert "sessionAffinityConfig" not in service


def test_one_gateway_needs_no_disruption_budget() -> None:
    chart = rendered(chart_values(gateway={"replicaCount": 1, "port": 8080}))

    assert [
        p
        for p in chart.of_kind("PodDisruptionBudget")
        if p["metadata"]["name"].endswith("-gateway")
    ] == []


def test_telegram_polling_on_several_gateways_is_refused() -> None:
    """Two getUpdates loops on one bot token conflict: polling is for one replica."""
    refused = helm_render(chart_values(config={"TELEGRAM_MODE": "polling"}))
    alone = helm_render(
        chart_values(config={"TELEGRAM_MODE": "polling"}, gateway={"replicaCount": 1, "port": 8080})
    )

    assert isinstance(refused, str)
    assert "config.TELEGRAM_MODE=polling needs gateway.replicaCount=1" in refused
    assert isinstance(alone, Rendered)


def test_replica_counts_come_from_values() -> None:
    chart = rendered(
        chart_values(
            rasa={"replicaCount": 5, "port": 5005}, actions={"replicaCount": 3, "port": 5055}
        )
    )

    assert deployment(chart, "rasa")["spec"]["replicas"] == 5
    assert deployment(chart, "actions")["spec"]["replicas"] == 3


def test_one_action_server_needs_no_disruption_budget() -> None:
    chart = rendered(chart_values(actions={"replicaCount": 1, "port": 5055}))

    assert [
        p
        for p in chart.of_kind("PodDisruptionBudget")
        if p["metadata"]["name"].endswith("-actions")
    ] == []


def test_a_replica_count_below_one_is_refused() -> None:
    error = helm_render(chart_values(rasa={"replicaCount": 0, "port": 5005}))

    assert isinstance(error, str)
    assert "replicaCount" in error


def test_the_processes_find_each_other_through_the_services(chart: Rendered) -> None:
    services = {
        svc["metadata"]["name"]: svc["spec"]["ports"][0]["port"] for svc in chart.of_kind("Service")
    }
    env = pod_env(chart, next(containers(deployment(chart, "gateway"))))

    for variable, component in (
        ("RASA_URL", "rasa"),
        ("ACTION_SERVER_URL", "actions"),
        ("GENERATOR_URL", "generator"),
    ):
        (name,) = [n for n in services if n.endswith(f"-{component}")]
        assert env[variable] == f"http://{name}:{services[name]}"
    (gateway,) = [n for n in services if n.endswith("-gateway")]
    assert env["GATEWAY_STREAM_URL"] == f"http://{gateway}:8080/internal/stream"


def test_without_the_generator_nobody_is_pointed_at_one() -> None:
    chart = rendered(chart_values(generator={"enabled": False, "replicaCount": 1, "port": 5006}))

    assert [
        d for d in chart.of_kind("Deployment") if d["metadata"]["name"].endswith("-generator")
    ] == []
    assert chart.named("ConfigMap", "-config")["data"]["GENERATOR_URL"] == ""


def test_pods_run_as_a_non_root_user_without_privileges(chart: Rendered) -> None:
    for workload in workloads(chart):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
            assert security["readOnlyRootFilesystem"] is True
            mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
            assert "/tmp" in mounts


def test_the_provisioning_job_runs_bot_provision_with_the_management_api(
    chart: Rendered,
) -> None:
    (job,) = chart.of_kind("Job")
    (container,) = containers(job)
    env = pod_env(chart, container)

    assert container["command"] == ["python", "deploy/provision.py"]
    assert env["RABBITMQCTL"] == "/app/deploy/rabbitmqctl_http.py"
    assert set(ADMIN_SECRETS) <= {n for n, v in env.items() if v.startswith("secret:")}
    # The ERP is not its business unless it seeds the demo.
    assert "ERP_DATABASE_URL" not in env
