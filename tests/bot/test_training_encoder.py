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
def project(project: Path) -> Path:
    """The shared skeleton (conftest.py) with a pipeline that names a sentence encoder."""
    (project / "config.yml").write_text(CONFIG)
    return project


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
