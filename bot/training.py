"""Train the Rasa model, but only when its inputs changed since the last training."""

from __future__ import annotations

import hashlib
import subprocess
import time
from pathlib import Path

import yaml

from bot import paths
from bot.processes import rasa_environment


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


def train(*, force: bool = False) -> float | None:
    """Train the model if needed; return the seconds it took, or None when it was skipped."""
    if encoder_dirs():
        from bot.encoder import ensure_encoders

        ensure_encoders(encoder_dirs())
    if not force and not needs_training():
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
    print("Training the Rasa model (config.yml, bot/domain or data/ changed)...", flush=True)
    started = time.perf_counter()
    subprocess.run(command, cwd=paths.ROOT, env=rasa_environment(), check=True)
    seconds = time.perf_counter() - started
    paths.FINGERPRINT_FILE.write_text(expected + "\n")
    print(f"Trained in {seconds:.0f} s: {paths.MODEL_FILE.relative_to(paths.ROOT)}")
    return seconds
