"""What every deployment file may hold: variable names the code reads, and no secret value."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.conftest import (
    CHART,
    COMPOSE_FILE,
    COMPOSE_SECRETS,
    DEPLOY,
    ROOT,
    chart_values,
    compose_config,
    containers,
    rendered,
)

CODE_DIRS = ("actions", "bot", "connectors", "erp", "models", "retrieval")
# The deploy scripts that read variables themselves (not the files that only set them).
DEPLOY_CODE = ("provision.py", "rabbitmqctl_http.py")
INFRA = ("postgres", "redis", "rabbitmq")
# A value of a generated secret: bot/secrets.py and deploy/write_env.py make 48 hex digits.
GENERATED = re.compile(r"(?<![0-9a-f])[0-9a-f]{48}(?![0-9a-f])")


def names_the_code_reads() -> str:
    """Every Python source and Rasa configuration file of the code, as one text to search."""
    files = [
        path
        for folder in CODE_DIRS
        for path in (ROOT / folder).rglob("*")
        if path.suffix in (".py", ".yml")
    ]
    files += [DEPLOY / name for name in DEPLOY_CODE]
    return "\n".join(path.read_text(encoding="utf-8") for path in files)


def read(name: str, source: str) -> bool:
    """Whether the code reads ``name`` ("NAME", ${NAME}) or the launcher sets it for every
    process (``NAME="..."`` in bot/processes.py's rasa_environment)."""
    return (
        f'"{name}"' in source
        or "${" + name + "}" in source
        or re.search(rf"\b{name}=", source) is not None
    )


@pytest.mark.usefixtures("tools")
def test_compose_sets_only_variables_the_code_reads(tmp_path: Path) -> None:
    source = names_the_code_reads()
    services = compose_config(COMPOSE_SECRETS, tmp_path).config["services"]
    unknown = [
        f"{name}.{variable}"
        for name, service in services.items()
        if name not in INFRA
        # The balancer (HAProxy) has no environment: its configuration is a file.
        for variable in service.get("environment", {})
        # The provisioning command reads SEED_DEMO_ERP itself.
        if not read(variable, source) and variable not in " ".join(service["command"])
    ]

    assert unknown == []


@pytest.mark.usefixtures("tools")
def test_the_chart_sets_only_variables_the_code_reads() -> None:
    source = names_the_code_reads()
    chart = rendered(chart_values())
    variables = {
        item["name"]
        for workload in chart.of_kind("Deployment") + chart.of_kind("Job")
        for container in containers(workload)
        for item in container.get("env", [])
    }
    variables |= set(chart.named("ConfigMap", "-config")["data"])

    assert sorted(v for v in variables if not read(v, source)) == []


def test_the_name_check_would_catch_a_misspelt_variable() -> None:
    source = names_the_code_reads()

    assert read("RASA_TOKEN", source)
    assert not read("RASA_TOKN", source)


def committed_deploy_files() -> list[Path]:
    """deploy/, docs/deployment.md, mk/deploy.mk, requirements/gpu.txt: what would be committed
    (git's view, so a developer's own git-ignored deploy/.env is left out)."""
    done = subprocess.run(
        [
            "git",
            "ls-files",
            "--cached",
            "--others",
            "--exclude-standard",
            "deploy",
            "docs/deployment.md",
            "mk/deploy.mk",
            "requirements/gpu.txt",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return [ROOT / line for line in done.stdout.splitlines()]


def test_no_committed_file_holds_a_generated_secret() -> None:
    files = committed_deploy_files()

    assert COMPOSE_FILE in files and CHART / "values.yaml" in files
    found = [str(p.relative_to(ROOT)) for p in files if GENERATED.search(p.read_text())]
    assert found == []


def test_the_secret_scan_would_catch_a_pasted_token() -> None:
    assert GENERATED.search("RASA_TOKEN=" + "3f" * 24)
    # sha256 pins (64 hex digits) are not secrets.
    assert not GENERATED.search("--hash=sha256:" + "ab" * 32)


def test_the_chart_s_values_hold_no_secret() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    assert values["secrets"]["values"] == {}
    assert values["secrets"]["existingSecret"] == ""


def test_the_compose_env_file_is_git_ignored() -> None:
    done = subprocess.run(
        ["git", "check-ignore", "--quiet", "deploy/.env"], cwd=ROOT, timeout=30, check=False
    )

    assert done.returncode == 0


def test_deploy_env_writes_every_required_variable_privately(tmp_path: Path) -> None:
    from deploy.write_env import main

    path = tmp_path / ".env"
    assert main([str(path)]) == 0

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    values = dict(
        line.split("=", 1) for line in path.read_text().splitlines() if not line.startswith("#")
    )
    assert set(COMPOSE_SECRETS) <= set(values)
    assert (
        len({values[name] for name in COMPOSE_SECRETS if name != "ERP_DATABASE_URL"})
        == len(COMPOSE_SECRETS) - 1
    )  # every secret its own
    assert f":{values['POSTGRES_PASSWORD']}@postgres:5432/erp" in values["ERP_DATABASE_URL"]


def test_deploy_env_never_replaces_an_existing_file(tmp_path: Path) -> None:
    from deploy.write_env import main

    path = tmp_path / ".env"
    path.write_text("RASA_TOKEN=kept\n")

    assert main([str(path)]) == 0
    assert path.read_text() == "RASA_TOKEN=kept\n"


@pytest.mark.usefixtures("tools")
def test_compose_accepts_what_deploy_env_writes(tmp_path: Path) -> None:
    from deploy.write_env import main

    env_file = tmp_path / ".env"
    main([str(env_file)])
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)

    result = compose_config(values, tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.config["services"]["rasa"]["environment"]["RASA_TOKEN"] == values["RASA_TOKEN"]


def test_the_shim_and_scripts_are_executable_or_run_with_python() -> None:
    shim = DEPLOY / "rabbitmqctl_http.py"

    assert os.access(shim, os.X_OK)
    assert shim.read_text().startswith("#!/usr/bin/env python3\n")
