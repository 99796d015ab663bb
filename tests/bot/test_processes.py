"""How the launcher wires its processes: loopback, the shared secrets, no token in argv."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

from bot import paths, rasa_server
from bot.processes import build_services
from bot.secrets import SECRET_NAMES
from bot.settings import Ports

SECRETS = {name: f"secret-of-{name.lower()}" for name in SECRET_NAMES}


@pytest.fixture()
def services(tmp_path: Path) -> dict[str, list[str]]:
    built = build_services(Ports(rasa=15005, actions=15055, gateway=18080),
                           logs_dir=tmp_path, secrets=SECRETS)  # fmt: skip
    return {service.name: service.command for service in built}


def test_the_action_server_is_ours_with_its_token_check(services: dict[str, list[str]]) -> None:
    assert services["actions"][1:] == ["-m", "actions.server", "--port", "15055"]


def test_rasa_listens_on_loopback_with_its_api_and_the_gateway_channel(
    services: dict[str, list[str]],
) -> None:
    rasa = services["rasa"]

    assert rasa[:4] == [str(paths.rasa_python()), "-m", "bot.rasa_server", "run"]
    assert rasa[rasa.index("--interface") + 1] == "127.0.0.1"
    assert "--enable-api" in rasa
    assert rasa[rasa.index("--credentials") + 1] == str(paths.CREDENTIALS_FILE)
    assert "bot.rasa_channel.GatewayInput:" in paths.CREDENTIALS_FILE.read_text()
    assert "\nrest:" not in "\n" + paths.CREDENTIALS_FILE.read_text()


def test_no_secret_appears_on_any_command_line(services: dict[str, list[str]]) -> None:
    # Every local user can read a process's command line (ps, /proc/<pid>/cmdline).
    words = " ".join(word for command in services.values() for word in command)
    assert not any(secret in words for secret in SECRETS.values())


def test_every_process_gets_every_shared_secret(tmp_path: Path) -> None:
    for service in build_services(Ports.free(), logs_dir=tmp_path, secrets=SECRETS):
        assert {name: service.env[name] for name in SECRET_NAMES} == SECRETS, service.name


def test_the_secrets_default_to_the_environment_and_var_secrets_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paths, "SECRETS_FILE", tmp_path / "secrets.json")
    monkeypatch.setenv("RASA_TOKEN", "from-the-environment")

    [actions, rasa, gateway] = build_services(Ports.free(), logs_dir=tmp_path)

    assert rasa.env["RASA_TOKEN"] == gateway.env["RASA_TOKEN"] == "from-the-environment"
    assert actions.env["ACTION_SERVER_TOKEN"] == rasa.env["ACTION_SERVER_TOKEN"]
    assert len(actions.env["ACTION_SERVER_TOKEN"]) >= 32
    assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600


def test_rasa_s_health_check_carries_its_api_token(tmp_path: Path) -> None:
    rasa = build_services(Ports.free(), logs_dir=tmp_path, secrets=SECRETS)[1]

    assert rasa.health_url.endswith("/status?token=secret-of-rasa_token")


def test_rasa_server_adds_the_token_inside_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    fake = types.ModuleType("rasa.__main__")
    fake.main = lambda: seen.append(list(sys.argv))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rasa", types.ModuleType("rasa"))
    monkeypatch.setitem(sys.modules, "rasa.__main__", fake)
    monkeypatch.setattr(sys, "argv", ["bot/rasa_server.py", "run", "--port", "5005"])
    monkeypatch.setenv("RASA_TOKEN", "t0ken")

    assert rasa_server.main() == 0
    assert seen == [["rasa", "run", "--port", "5005", "--auth-token", "t0ken"]]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["run"], {"RASA_TOKEN": ""}, "RASA_TOKEN is not set"),
        (["train"], {"RASA_TOKEN": "t"}, "usage: python -m bot.rasa_server run"),
    ],
    ids=["no-token", "not-run"],
)
def test_rasa_server_refuses_to_start_rasa_without_a_token_or_for_another_command(
    args: list[str], env: dict[str, str], message: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.rasa_server", *args],
        cwd=paths.ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 2
    assert message in result.stderr
