"""The generator's settings: read from the environment given, paths from the project root,
a bad value named with its variable, and the server refusing to start on one."""

from __future__ import annotations

import io
from contextlib import redirect_stderr
from pathlib import Path

import pytest

from envvars import ROOT, SettingsError
from models import server
from models.settings import GENERATOR, THREADS, GeneratorSettings


def test_the_settings_come_from_the_environment_given() -> None:
    settings = GeneratorSettings.from_env(
        {"GENERATOR_BACKEND": " Transformers ", "GENERATOR_MAX_SECONDS": "2.5",
         "GENERATOR_URL": "http://gpu:5006/", "GENERATOR_GPU_LAYERS": "-1"}
    )  # fmt: skip

    assert (settings.backend, settings.max_seconds) == ("transformers", 2.5)
    assert (settings.url, settings.gpu_layers) == ("http://gpu:5006", -1)
    assert settings.threads == THREADS.default >= 1


def test_relative_model_paths_are_read_from_the_project_root() -> None:
    settings = GeneratorSettings.from_env(
        {"GENERATOR_BASE_MODEL": "var/base.gguf", "GENERATOR_ADAPTER_DIR": "adapters/a",
         "GENERATOR_MODELS_DIR": "/srv/models"}
    )  # fmt: skip

    assert settings.base_model == ROOT / "var" / "base.gguf"
    assert settings.adapter_dir == ROOT / "adapters" / "a"
    assert settings.models_dir == Path("/srv/models")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GENERATOR_PORT", "http", "GENERATOR_PORT must be an integer, got 'http'"),
        ("GENERATOR_QUEUE", "1001", "GENERATOR_QUEUE must be between 0 and 1000, got 1001"),
        ("GENERATOR_MAX_SECONDS", "-1", "GENERATOR_MAX_SECONDS must be greater than 0"),
    ],
    ids=["port", "queue", "seconds"],
)
def test_a_bad_value_is_a_settings_error_naming_the_variable(
    name: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        GeneratorSettings.from_env({name: value})


def test_every_generator_variable_is_documented() -> None:
    names = [variable.name for variable in GENERATOR]

    assert "GENERATOR_HOST" in names and "LOG_LEVEL" in names
    assert all(variable.doc for variable in GENERATOR)
    assert [v.name for v in GENERATOR if v.secret] == ["GENERATOR_TOKEN"]


@pytest.mark.parametrize(("name", "value"), [("LOG_LEVEL", "chatty"), ("GENERATOR_NICE", "x")])
def test_the_server_does_not_start_on_a_bad_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv("GENERATOR_TOKEN", "t")
    monkeypatch.setenv(name, value)
    stderr = io.StringIO()

    with redirect_stderr(stderr):
        code = server.main([])

    assert code == 2
    assert stderr.getvalue().startswith(f"Cannot start the generator: {name} must be")
