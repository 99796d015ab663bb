"""Train the Rasa model, but only when its inputs changed since the last training."""

from __future__ import annotations

import hashlib
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from bot import paths
from bot.processes import rasa_environment
from bot.progress import output_lines

# What `rasa train` printed the last time (TensorFlow's and Rasa's output mean little to a user
# watching `make run`; they are here when training fails).
TRAIN_LOG = paths.LOGS_DIR / "train.log"
# Rasa's progress bars: "Epochs: 45%|████" (TED), "Processed story blocks: 100%|".
_PROGRESS = re.compile(r"^\s*(Epochs|Processed [a-z ]+|Processed trackers):\s+(\d+)%")
_STAGE = re.compile(r"Starting to train component '?([A-Za-z]+)")


def encoder_dirs() -> list[Path]:
    """The ONNX sentence encoders (`model_dir`) config.yml's pipeline reads (bot/encoder.py)."""
    config = yaml.safe_load(paths.CONFIG_FILE.read_text()) or {}
    return [paths.ROOT / c["model_dir"] for c in config.get("pipeline") or [] if "model_dir" in c]


def training_inputs() -> list[Path]:
    """Every file the trained model depends on, in a stable order."""
    files = [paths.CONFIG_FILE]
    for folder in (paths.DOMAIN_DIR, *paths.TRAINING_DATA_DIRS):
        files.extend(sorted(p for p in folder.rglob("*.yml") if p.is_file()))
    # An encoder's record holds the digests of its weights and tokenizer.
    files.extend(d / "encoder.json" for d in encoder_dirs() if (d / "encoder.json").is_file())
    return files


def fingerprint() -> str:
    """A hash of the training inputs' names and contents."""
    digest = hashlib.sha256()
    for file in training_inputs():
        digest.update(str(file.relative_to(paths.ROOT)).encode())
        digest.update(b"\0")
        digest.update(file.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def needs_training() -> bool:
    """True when there is no model or its fingerprint differs from the current inputs."""
    if not paths.MODEL_FILE.exists() or not paths.FINGERPRINT_FILE.exists():
        return True
    return paths.FINGERPRINT_FILE.read_text().strip() != fingerprint()


def train(*, force: bool = False, status: Callable[[str], None] | None = None) -> float | None:
    """Train the model if needed; return the seconds it took, or None when it was skipped.

    ``status``: told what training is doing ("exporting the sentence encoder", "training
    TEDPolicy, epochs 45%"); Rasa's own output then goes to TRAIN_LOG instead of the terminal.

    Raises:
        TrainingFailed: `rasa train` exited with an error (its output is in TRAIN_LOG).
    """
    if encoder_dirs():
        from bot.encoder import ensure_encoders

        if status is None:
            ensure_encoders(encoder_dirs())
        else:
            ensure_encoders(encoder_dirs(), say=lambda _: status("exporting the sentence encoder"))
    if not force and not needs_training():
        if status is None:
            print(f"Rasa model is up to date: {paths.MODEL_FILE.relative_to(paths.ROOT)}")
        return None
    paths.MODELS_DIR.mkdir(parents=True, exist_ok=True)
    expected = fingerprint()
    command = [
        str(paths.rasa_executable()),
        "train",
        "--config", str(paths.CONFIG_FILE),
        "--domain", str(paths.DOMAIN_DIR),
        "--data", *(str(d) for d in paths.TRAINING_DATA_DIRS),
        "--out", str(paths.MODELS_DIR),
        "--fixed-model-name", paths.MODEL_NAME,
    ]  # fmt: skip
    started = time.perf_counter()
    if status is None:
        print("Training the Rasa model (config.yml, bot/domain or data/ changed)...", flush=True)
        subprocess.run(command, cwd=paths.ROOT, env=rasa_environment(), check=True)
    else:
        _run_logged(command, status)
    seconds = time.perf_counter() - started
    paths.FINGERPRINT_FILE.write_text(expected + "\n")
    if status is None:
        print(f"Trained in {seconds:.0f} s: {paths.MODEL_FILE.relative_to(paths.ROOT)}")
    return seconds


class TrainingFailed(RuntimeError):
    """`rasa train` failed; the message gives its last lines and TRAIN_LOG."""


def _run_logged(command: list[str], status: Callable[[str], None]) -> None:
    """Run `rasa train` with its output in TRAIN_LOG, telling ``status`` its stage."""
    TRAIN_LOG.parent.mkdir(parents=True, exist_ok=True)
    stage = "starting Rasa"
    status(stage)
    tail: list[str] = []
    command_env = rasa_environment()
    with (
        TRAIN_LOG.open("w") as log,
        subprocess.Popen(
            command, cwd=paths.ROOT, env=command_env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        ) as process,
    ):  # fmt: skip
        assert process.stdout is not None
        for line in output_lines(process.stdout):
            log.write(line + "\n")
            tail = [*tail[-14:], line]
            if match := _STAGE.search(line):
                stage = f"training {match[1]}"
                status(stage)
            elif match := _PROGRESS.match(line):
                status(f"{stage}, {match[1].lower()} {match[2]}%")
        code = process.wait()
    if code != 0:
        raise TrainingFailed(
            f"`rasa train` exited with {code}; its last lines:\n  "
            + "\n  ".join(tail)
            + f"\n(whole output: {TRAIN_LOG})"
        )
