"""The launcher's settings (bot/settings.py): ports, paths from the project root, secrets kept
secret, a bad value named with its variable; `make run` stops on a bad port with that
message; Rasa's wrapper refuses to start without its token, in Rasa's own env."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot import launcher, paths
from bot.generator_build import build_command
from bot.install import wheel_cache
from bot.profile import endpoints_file
from bot.secrets import SECRET_NAMES
from bot.settings import LAUNCHER, RASA, Ports, tracker_db_path
from envvars import ROOT, SettingsError


def test_ports_come_from_the_environment_given() -> None:
    ports = Ports.from_env({"RASA_PORT": "6005", "ACTIONS_PORT": "6055", "PORT": " 9090 "})

    assert (ports.rasa, ports.actions, ports.gateway, ports.generator) == (6005, 6055, 9090, 5006)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RASA_PORT", "http", "RASA_PORT must be a port number between 1 and 65535, got 'http'"),
        ("PORT", "65536", "PORT must be a port number between 1 and 65535, got '65536'"),
        ("ACTIONS_PORT", "-1", "ACTIONS_PORT must be a port number between 1 and 65535"),
        ("GENERATOR_PORT", "0", "GENERATOR_PORT must be between 1 and 65535, got 0"),
    ],
    ids=["word", "too-high", "negative", "generator"],
)
def test_a_bad_port_is_named_with_its_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Ports.from_env({name: value})


def test_make_run_stops_on_a_bad_port_with_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASA_PORT", "rasa")

    with pytest.raises(SystemExit, match="^RASA_PORT must be a port number") as stopped:
        launcher.run()

    assert not isinstance(stopped.value.code, int)  # printed, exit status 1


def test_relative_paths_are_read_from_the_project_root() -> None:
    assert tracker_db_path({}) == str(paths.VAR / "rasa_tracker.db")
    assert tracker_db_path({"RASA_TRACKER_DB": "var/t.db"}) == str(ROOT / "var" / "t.db")
    assert endpoints_file({"RASA_ENDPOINTS_FILE": "bot/e.yml"}) == ROOT / "bot" / "e.yml"
    assert wheel_cache({"LLAMA_WHEEL_CACHE": "wheels"}) == ROOT / "wheels"


def test_rasa_bin_names_rasa_s_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RASA_BIN", raising=False)
    assert paths.rasa_executable() == ROOT / ".venv-rasa" / "bin" / "rasa"
    monkeypatch.setenv("RASA_BIN", "/opt/rasa/bin/rasa")
    assert paths.rasa_python() == Path("/opt/rasa/bin/python")


def test_blank_build_flags_are_left_to_the_installer() -> None:
    assert build_command({"PYTHON311": " ", "LLAMA_CMAKE_ARGS": ""})[4:] == []


def test_every_shared_secret_is_declared_secret_with_a_meaning() -> None:
    secrets = {variable.name for variable in LAUNCHER if variable.secret}

    assert set(SECRET_NAMES) <= secrets
    assert all(variable.doc for variable in LAUNCHER)
    assert [(v.name, v.secret) for v in RASA] == [("RASA_TOKEN", True)]


def test_rasa_s_wrapper_refuses_to_start_without_its_token_in_rasa_s_env() -> None:
    """bot.rasa_server runs in .venv-rasa (Python 3.10): bot.settings must import there."""
    python = paths.rasa_python()
    if not python.exists():
        pytest.skip("no Rasa env (make install)")
    done = subprocess.run(
        [str(python), "-m", "bot.rasa_server", "run"], cwd=ROOT, env={"RASA_TOKEN": " "},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("RASA_TOKEN is not set")
