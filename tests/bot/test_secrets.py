"""The shared secrets: generated once into a private file, reused, overridden by the environment."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from bot.secrets import SECRET_NAMES, SecretsError, shared_secrets


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_first_call_generates_every_secret_into_a_file_only_its_owner_reads(
    tmp_path: Path,
) -> None:
    path = tmp_path / "var" / "secrets.json"

    values = shared_secrets(path, environ={})

    assert sorted(values) == sorted(SECRET_NAMES)
    assert len(set(values.values())) == len(SECRET_NAMES)
    assert all(len(value) >= 32 for value in values.values())
    assert mode(path) == 0o600
    assert json.loads(path.read_text()) == values
    assert [p.name for p in path.parent.iterdir()] == ["secrets.json"]  # no temporary left


def test_later_calls_reuse_the_stored_secrets(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    first = shared_secrets(path, environ={})
    written = path.stat().st_mtime_ns

    assert shared_secrets(path, environ={}) == first
    assert path.stat().st_mtime_ns == written


def test_the_environment_overrides_and_is_not_written_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"

    values = shared_secrets(path, environ={"RASA_TOKEN": " from-env ", "VERIFICATION_SECRET": ""})

    assert values["RASA_TOKEN"] == "from-env"
    stored = json.loads(path.read_text())
    assert "RASA_TOKEN" not in stored
    # An empty variable counts as unset: that secret is generated.
    assert values["VERIFICATION_SECRET"] == stored["VERIFICATION_SECRET"] != ""


def test_with_every_secret_in_the_environment_no_file_is_written(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    env = {name: f"env-{name}" for name in SECRET_NAMES}

    assert shared_secrets(path, environ=env) == env
    assert not path.exists()


def test_a_secret_missing_from_an_older_file_is_added_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"RASA_TOKEN": "kept"}))

    values = shared_secrets(path, environ={})

    assert values["RASA_TOKEN"] == "kept"
    assert json.loads(path.read_text()) == values


def test_a_file_others_can_read_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    shared_secrets(path, environ={})
    path.chmod(0o644)

    shared_secrets(path, environ={})

    assert mode(path) == 0o600


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('["a list"]', "must be a JSON object of strings"),
        ('{"RASA_TOKEN": 42}', "must be a JSON object of strings"),
    ],
    ids=["not-json", "not-an-object", "not-strings"],
)
def test_a_broken_file_is_refused_with_what_to_do(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(content)

    with pytest.raises(SecretsError) as raised:
        shared_secrets(path, environ={})

    assert message in str(raised.value)
    assert str(path) in str(raised.value)
    assert "delete it to generate new secrets" in str(raised.value)
    assert path.read_text() == content


def test_a_folder_in_place_of_the_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.mkdir()

    with pytest.raises(SecretsError, match="is not a regular file"):
        shared_secrets(path, environ={})
