"""A new sentence encoder export retrains the model, like a change to config.yml does."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import encoder, paths, training

CONFIG = """\
pipeline:
  - name: WhitespaceTokenizer
  - name: bot.components.sentence_encoder.SentenceEncoderFeaturizer
    model_dir: var/encoders/test-encoder
"""


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "bot" / "domain").mkdir(parents=True)
    for folder in ("nlu", "stories", "rules"):
        (tmp_path / "data" / folder).mkdir(parents=True)
    (tmp_path / "config.yml").write_text(CONFIG)
    monkeypatch.setattr(paths, "ROOT", tmp_path)
    monkeypatch.setattr(paths, "CONFIG_FILE", tmp_path / "config.yml")
    monkeypatch.setattr(paths, "DOMAIN_DIR", tmp_path / "bot" / "domain")
    monkeypatch.setattr(
        paths, "TRAINING_DATA_DIRS", tuple(tmp_path / "data" / f for f in ("nlu", "stories"))
    )
    models = tmp_path / "var" / "models"
    monkeypatch.setattr(paths, "MODELS_DIR", models)
    monkeypatch.setattr(paths, "MODEL_FILE", models / "assistant.tar.gz")
    monkeypatch.setattr(paths, "FINGERPRINT_FILE", models / "assistant.fingerprint")
    return tmp_path


def test_encoder_dirs_come_from_the_pipeline(project: Path) -> None:
    assert training.encoder_dirs() == [project / "var" / "encoders" / "test-encoder"]


def test_a_new_export_changes_the_fingerprint(project: Path) -> None:
    meta = project / "var" / "encoders" / "test-encoder" / encoder.META_FILE
    meta.parent.mkdir(parents=True)
    meta.write_text('{"model_sha256": "aaa"}')
    before = training.fingerprint()
    assert meta in training.training_inputs()
    meta.write_text('{"model_sha256": "bbb"}')
    assert training.fingerprint() != before


def test_train_exports_the_encoder_before_it_decides(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exported: list[Path] = []
    monkeypatch.setattr(encoder, "ensure_encoders", lambda dirs: exported.extend(dirs))
    paths.MODELS_DIR.mkdir(parents=True)
    paths.MODEL_FILE.write_bytes(b"model")
    paths.FINGERPRINT_FILE.write_text(training.fingerprint() + "\n")
    assert training.train() is None  # up to date: no rasa run
    assert exported == [project / "var" / "encoders" / "test-encoder"]
