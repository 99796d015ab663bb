"""Training runs only when config.yml, the domain or the training data changed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bot import paths, training


@pytest.fixture()
def project(project: Path) -> Path:
    """The shared skeleton (conftest.py) with a domain file, NLU data and data/docs."""
    (project / "bot" / "domain" / "core.yml").write_text("intents: [greet]\n")
    (project / "data" / "nlu" / "nlu.yml").write_text("nlu: []\n")
    (project / "data" / "docs").mkdir()
    return project


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


FAKE_RASA = """
import sys
print("INFO rasa.engine.training.hooks - Starting to train component 'LinearIntentClassifier'.")
print("2026-12-07 INFO rasa.engine.training.hooks - Starting to train component 'TEDPolicy'.")
sys.stdout.write("Epochs:   0%|          | 0/40\\rEpochs:  45%|####      | 18/40\\r")
print("Epochs: 100%|##########| 40/40")
sys.stdout.flush()
raise SystemExit(int(sys.argv[1]))
"""


def test_training_under_make_run_says_its_stage_and_keeps_rasas_output_in_a_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(training, "TRAIN_LOG", tmp_path / "train.log")
    script = tmp_path / "rasa.py"
    script.write_text(FAKE_RASA)
    seen: list[str] = []

    training._run_logged([sys.executable, str(script), "0"], seen.append)

    assert seen == [
        "starting Rasa",
        "training LinearIntentClassifier",
        "training TEDPolicy",
        "training TEDPolicy, epochs 0%",
        "training TEDPolicy, epochs 45%",
        "training TEDPolicy, epochs 100%",
    ]
    assert "Epochs:  45%" in (tmp_path / "train.log").read_text()

    with pytest.raises(training.TrainingFailed, match=r"exited with 3(.|\n)*Epochs: 100%"):
        training._run_logged([sys.executable, str(script), "3"], seen.append)
