"""Where the project's files and runtime state live."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
MODELS_DIR = VAR / "models"
LOGS_DIR = VAR / "logs"
MODEL_NAME = "assistant"
MODEL_FILE = MODELS_DIR / f"{MODEL_NAME}.tar.gz"
FINGERPRINT_FILE = MODELS_DIR / f"{MODEL_NAME}.fingerprint"
# The shared secrets between the processes, generated once (bot/secrets.py).
SECRETS_FILE = VAR / "secrets.json"

CONFIG_FILE = ROOT / "config.yml"
DOMAIN_DIR = ROOT / "bot" / "domain"
ENDPOINTS_FILE = ROOT / "bot" / "endpoints.yml"
CREDENTIALS_FILE = ROOT / "bot" / "credentials.yml"
TRAINING_DATA_DIRS = (ROOT / "data" / "nlu", ROOT / "data" / "stories", ROOT / "data" / "rules")


def rasa_executable() -> Path:
    """Return the `rasa` command of the Rasa virtualenv (RASA_BIN overrides it)."""
    # Imported here: bot.settings takes its defaults from this module.
    from bot.settings import RASA_BIN

    return RASA_BIN.read(os.environ)


def rasa_python() -> Path:
    """Return the interpreter of the Rasa virtualenv (beside its `rasa` command)."""
    return rasa_executable().parent / "python"


def main_python() -> str:
    """Return the interpreter of the main environment (the one running this code)."""
    return sys.executable
