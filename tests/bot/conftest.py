"""Fixtures shared by the bot tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import paths


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project skeleton in ``tmp_path`` that bot.paths points at: config.yml (an empty
    pipeline), bot/domain/, data/nlu, data/stories, data/rules and var/models for the model."""
    (tmp_path / "bot" / "domain").mkdir(parents=True)
    for folder in ("nlu", "stories", "rules"):
        (tmp_path / "data" / folder).mkdir(parents=True)
    (tmp_path / "config.yml").write_text("pipeline: []\n")
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
