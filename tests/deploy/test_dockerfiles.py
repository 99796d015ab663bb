"""deploy/Dockerfile.main and Dockerfile.rasa: hadolint, and what they install and run as.

No Docker engine here: the images are not built in the tests (docs/deployment.md)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import DEPLOY, HADOLINT, ROOT
from tests.layout import TOOLING

DOCKERFILES = {"main": DEPLOY / "Dockerfile.main", "rasa": DEPLOY / "Dockerfile.rasa"}


def final_stage(path: Path) -> str:
    """The instructions of the last stage: what the image runs with."""
    text = path.read_text()
    return text[text.rindex("\nFROM ") :]


@pytest.mark.usefixtures("tools")
def test_hadolint_finds_nothing() -> None:
    done = subprocess.run(
        [
            str(HADOLINT),
            "--config",
            str(DEPLOY / ".hadolint.yaml"),
            *map(str, DOCKERFILES.values()),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.usefixtures("tools")
def test_hadolint_would_catch_an_image_running_as_root(tmp_path: Path) -> None:
    """The linter itself: the main image switched to `USER root` fails (DL3002)."""
    text = DOCKERFILES["main"].read_text().replace("USER 10001:10001", "USER root")
    path = tmp_path / "Dockerfile"
    path.write_text(text)

    done = subprocess.run(
        [str(HADOLINT), "--config", str(DEPLOY / ".hadolint.yaml"), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode != 0
    assert "DL3002" in done.stdout


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_the_image_runs_as_a_non_root_user(name: str) -> None:
    stage = final_stage(DOCKERFILES[name])
    users = re.findall(r"^USER\s+(\S+)", stage, flags=re.MULTILINE)

    assert users, f"Dockerfile.{name} sets no USER: it would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    assert "useradd --system --uid 10001" in stage


# A checkout's sets, never an image's: training, tests and lint (main.txt includes all).
CHECKOUT_ONLY = {"main.txt", "training.txt", "dev.txt"}


def test_every_runtime_requirements_file_is_installed_by_an_image_and_no_other() -> None:
    installs = " ".join(path.read_text() for path in DOCKERFILES.values())
    installed = set(re.findall(r"-r requirements/([a-z0-9]+\.txt)", installs))

    files = {path.name for path in (ROOT / "requirements").glob("*.txt")}
    assert installed == files - CHECKOUT_ONLY
    assert "--require-hashes -r requirements/encoder.txt" in installs


def test_each_environment_gets_its_own_python() -> None:
    assert "ARG PYTHON_IMAGE=python:3.11-" in DOCKERFILES["main"].read_text()
    rasa = DOCKERFILES["rasa"].read_text()
    assert "ARG PYTHON_IMAGE=python:3.10-" in rasa
    assert "pip install -r requirements/rasa.txt" in rasa


def test_the_rasa_image_serves_the_production_endpoints_with_its_trained_model() -> None:
    rasa = DOCKERFILES["rasa"].read_text()

    assert "rasa train" in rasa and "--fixed-model-name assistant" in rasa
    cmd = final_stage(DOCKERFILES["rasa"])
    assert '"bot.rasa_server", "run"' in cmd
    assert '"bot/endpoints.production.yml"' in cmd


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_no_state_or_secret_goes_into_the_build_context(name: str) -> None:
    ignored = (DEPLOY / f"Dockerfile.{name}.dockerignore").read_text().split()

    for path in (".git", ".venv", ".venv-rasa", "var", "deploy/.env"):
        assert path in ignored, path


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_no_offline_tooling_goes_into_an_image(name: str) -> None:
    lines = (DEPLOY / f"Dockerfile.{name}.dockerignore").read_text().splitlines()
    ignored = {line.strip() for line in lines if not line.startswith("#")}

    assert set(TOOLING) <= ignored
    assert not {"demo", "models", "bot", "erp"} & ignored  # demo seeding is provisioning
