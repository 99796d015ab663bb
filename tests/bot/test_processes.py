"""How the launcher wires its processes: loopback, the shared secrets, no token in argv, and
the generator's server first when the generator is on."""

from __future__ import annotations

import argparse
import subprocess
import sys
import types
from pathlib import Path

import pytest

from bot import launcher, paths, rasa_server, rasa_speedups, rasa_turns
from bot.processes import RestartPolicy, Service, ServiceFailed, Supervisor, build_services
from bot.secrets import SECRET_NAMES
from bot.settings import Ports
from models import base

SECRETS = {name: f"secret-of-{name.lower()}" for name in SECRET_NAMES}
PORTS = Ports(rasa=15005, actions=15055, gateway=18080, generator=15006)


@pytest.fixture(autouse=True)
def generator_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped default (llama_cpp, served locally), whatever the developer's shell says."""
    monkeypatch.setenv("GENERATOR_BACKEND", "llama_cpp")
    monkeypatch.delenv("GENERATOR_URL", raising=False)


@pytest.fixture()
def services(tmp_path: Path) -> dict[str, list[str]]:
    built = build_services(PORTS, logs_dir=tmp_path, secrets=SECRETS)
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

    [generator, actions, rasa, gateway] = build_services(Ports.free(), logs_dir=tmp_path)

    assert rasa.env["RASA_TOKEN"] == gateway.env["RASA_TOKEN"] == "from-the-environment"
    assert generator.env["GENERATOR_TOKEN"] == actions.env["GENERATOR_TOKEN"]
    assert actions.env["ACTION_SERVER_TOKEN"] == rasa.env["ACTION_SERVER_TOKEN"]
    assert len(actions.env["ACTION_SERVER_TOKEN"]) >= 32
    assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600


def test_rasa_s_health_check_carries_its_api_token(tmp_path: Path) -> None:
    [rasa] = [s for s in build_services(Ports.free(), logs_dir=tmp_path, secrets=SECRETS)
              if s.name == "rasa"]  # fmt: skip

    assert rasa.health_url.endswith("/status?token=secret-of-rasa_token")


def test_a_token_starting_with_a_dash_reaches_rasa_as_the_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Generated tokens are URL-safe base64: one in 64 starts with "-".
    seen: list[list[str]] = []
    fake = types.ModuleType("rasa.__main__")
    fake.main = lambda: seen.append(list(sys.argv))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rasa", types.ModuleType("rasa"))
    monkeypatch.setitem(sys.modules, "rasa.__main__", fake)
    monkeypatch.setattr(sys, "argv", ["bot/rasa_server.py", "run"])
    monkeypatch.setenv("RASA_TOKEN", "-Xk_9")
    monkeypatch.setattr(rasa_speedups, "apply", lambda: None)
    monkeypatch.setattr(rasa_turns, "apply", lambda: None)

    assert rasa_server.main() == 0
    parser = argparse.ArgumentParser()
    parser.add_argument("-t", "--auth-token")
    known, _ = parser.parse_known_args(seen[0][2:])
    assert known.auth_token == "-Xk_9"


def test_rasa_server_adds_the_token_inside_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    fake = types.ModuleType("rasa.__main__")
    fake.main = lambda: seen.append(list(sys.argv))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rasa", types.ModuleType("rasa"))
    monkeypatch.setitem(sys.modules, "rasa.__main__", fake)
    monkeypatch.setattr(sys, "argv", ["bot/rasa_server.py", "run", "--port", "5005"])
    monkeypatch.setenv("RASA_TOKEN", "t0ken")
    monkeypatch.setattr(rasa_speedups, "apply", lambda: seen.append(["speedups applied"]))
    monkeypatch.setattr(rasa_turns, "apply", lambda: seen.append(["whole turns applied"]))

    assert rasa_server.main() == 0
    assert seen == [
        ["speedups applied"],
        ["whole turns applied"],
        ["rasa", "run", "--port", "5005", "--auth-token=t0ken"],
    ]


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


# --- the generator's own process -------------------------------------------------------


def test_the_generator_s_server_starts_first_and_every_process_is_given_its_url(
    tmp_path: Path,
) -> None:
    built = build_services(PORTS, logs_dir=tmp_path, secrets=SECRETS)

    assert [service.name for service in built] == ["generator", "actions", "rasa", "gateway"]
    generator = built[0]
    assert generator.command[1:] == ["-m", "models.server", "--port", "15006"]
    assert generator.health_url == "http://127.0.0.1:15006/health"
    assert generator.log_file == tmp_path / "generator.log"
    assert not generator.essential
    assert all(service.essential for service in built[1:])
    assert {s.env["GENERATOR_URL"] for s in built} == {"http://127.0.0.1:15006"}


def test_with_the_generator_off_there_is_no_generator_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GENERATOR_BACKEND", "off")

    built = build_services(PORTS, logs_dir=tmp_path, secrets=SECRETS)

    assert [service.name for service in built] == ["actions", "rasa", "gateway"]
    assert {s.env["GENERATOR_URL"] for s in built} == {""}


def test_an_operator_s_generator_url_is_used_and_none_started_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GENERATOR_URL", "https://gpu.example:8443")

    built = build_services(PORTS, logs_dir=tmp_path, secrets=SECRETS)

    assert [service.name for service in built] == ["actions", "rasa", "gateway"]
    assert {s.env["GENERATOR_URL"] for s in built} == {"https://gpu.example:8443"}


def test_a_generator_the_launcher_found_unusable_is_not_started(tmp_path: Path) -> None:
    built = build_services(PORTS, logs_dir=tmp_path, secrets=SECRETS, generator=False)

    assert [service.name for service in built] == ["actions", "rasa", "gateway"]
    assert {s.env["GENERATOR_URL"] for s in built} == {""}


def test_free_ports_include_the_generator_s() -> None:
    ports = Ports.free()

    assert len({ports.rasa, ports.actions, ports.gateway, ports.generator}) == 4
    assert ports.generator_url == f"http://127.0.0.1:{ports.generator}"


def test_the_generator_port_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENERATOR_PORT", "6006")

    assert Ports.from_env().generator == 6006


def test_the_launcher_starts_a_generator_only_when_one_is_usable_here(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GENERATOR_ADAPTER_DIR", "")
    monkeypatch.setattr(base, "base_path", lambda settings: tmp_path / "base.gguf")
    plan = launcher.ensure_generator()
    assert plan.start is True
    assert "served by its own process on port 5006 (nice 10, idle CPU policy)" in plan.note

    monkeypatch.setenv("GENERATOR_URL", "https://gpu.example:8443")
    plan = launcher.ensure_generator()
    assert plan.start is False
    assert plan.note.startswith("served at https://gpu.example:8443")

    monkeypatch.setenv("GENERATOR_BACKEND", "off")
    assert launcher.ensure_generator().start is False


class Crashing(Service):
    """A service whose process has always just exited."""

    def __init__(self, name: str, *, essential: bool) -> None:
        super().__init__(name, [], "http://unused", {}, Path(f"/logs/{name}.log"),
                         essential=essential)  # fmt: skip
        self.starts = 0

    def start(self) -> None:
        self.starts += 1

    def exited(self) -> int | None:
        return 1

    def kill_leftovers(self) -> None:
        return None


def crash_loop(service: Crashing, reports: list[str]) -> None:
    now = [0.0]
    policy = RestartPolicy(first_delay=1, max_delay=1, max_restarts=2, window=100)
    supervisor = Supervisor([service], policy=policy, clock=lambda: now[0], report=reports.append)
    for _ in range(10):
        supervisor.check()
        now[0] += 1.5


def test_a_crash_looping_generator_is_left_stopped_and_the_rest_goes_on() -> None:
    generator, reports = Crashing("generator", essential=False), []

    crash_loop(generator, reports)

    assert generator.starts == 2
    assert reports[-1] == (
        "generator exited with code 1, 3 exits within 100 s: it keeps crashing, see "
        "/logs/generator.log; left stopped, the others go on without it."
    )


def test_a_crash_looping_essential_service_still_stops_everything() -> None:
    with pytest.raises(ServiceFailed, match="actions exited with code 1, 3 exits"):
        crash_loop(Crashing("actions", essential=True), [])
