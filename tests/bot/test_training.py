"""Training runs only when config.yml, the domain or the training data changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import paths, training


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "bot" / "domain").mkdir(parents=True)
    for folder in ("nlu", "stories", "rules"):
        (tmp_path / "data" / folder).mkdir(parents=True)
    (tmp_path / "config.yml").write_text("pipeline: []\n")
    (tmp_path / "bot" / "domain" / "core.yml").write_text("intents: [greet]\n")
    (tmp_path / "data" / "nlu" / "nlu.yml").write_text("nlu: []\n")
    (tmp_path / "data" / "docs").mkdir()
    monkeypatch.setattr(paths, "ROOT", tmp_path)
    monkeypatch.setattr(paths, "CONFIG_FILE", tmp_path / "config.yml")
    monkeypatch.setattr(paths, "DOMAIN_DIR", tmp_path / "bot" / "domain")
    monkeypatch.setattr(
        paths,
        "TRAINING_DATA_DIRS",
        tuple(tmp_path / "data" / f for f in ("nlu", "stories", "rules")),
    )
    models = tmp_path / "var" / "models"
    monkeypatch.setattr(paths, "MODELS_DIR", models)
    monkeypatch.setattr(paths, "MODEL_FILE", models / "assistant.tar.gz")
    monkeypatch.setattr(paths, "FINGERPRINT_FILE", models / "assistant.fingerprint")
    return tmp_path


def mark_trained(project: Path) -> None:
    paths.MODELS_DIR.mkdir(parents=True, exist_ok=True)
    paths.MODEL_FILE.write_bytes(b"model")
    paths.FINGERPRINT_FILE.write_text(training.fingerprint() + "\n")


def test_no_model_needs_training(project: Path) -> None:
    assert training.needs_training()


def test_unchanged_inputs_skip_training(project: Path) -> None:
    mark_trained(project)
    assert not training.needs_training()
    assert training.train() is None  # would fail if it tried to run rasa here


@pytest.mark.parametrize(
    "changed",
    ["config.yml", "bot/domain/core.yml", "data/nlu/nlu.yml", "data/rules/new.yml"],
    ids=["config", "domain", "nlu", "new-rules-file"],
)
def test_changed_input_needs_training(project: Path, changed: str) -> None:
    mark_trained(project)
    (project / changed).write_text("changed: true\n")
    assert training.needs_training()


def test_documents_do_not_trigger_training(project: Path) -> None:
    mark_trained(project)
    (project / "data" / "docs" / "returns.yml").write_text("a: b\n")
    assert not training.needs_training()
