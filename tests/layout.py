"""Which of the project's Python files serve conversations and which are offline tooling: for
the checks on settings (tests/test_configuration.py) and requirements
(tests/test_requirements.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = (
    "actions",
    "bot",
    "connectors",
    "contracts",
    "envvars",
    "erp",
    "i18n",
    "models",
    "retrieval",
)
# Offline tooling inside the runtime packages: benchmarks, load generators, training and its
# data, demo traffic, the installer (runs before any virtualenv), the fake platforms of the
# tests and benchmarks. They set variables for the code they measure and use the dev and
# training requirements.
TOOLING = (
    "bot/bench*.py",
    "bot/load/*.py",
    "bot/demo_traffic/*.py",
    "bot/adversary/*.py",
    "bot/install.py",
    "erp/bench*.py",
    "retrieval/bench*.py",
    "models/bench*.py",
    "models/dataset*.py",
    "models/train*.py",
    "models/evaluate*.py",
    "connectors/fake_platforms.py",
)


def is_tooling(file: Path) -> bool:
    relative = file.relative_to(ROOT)
    return any(relative.match(pattern) for pattern in TOOLING)


def runtime_files() -> Iterator[Path]:
    """Every Python file of the runtime packages but the tooling."""
    for package in RUNTIME:
        for file in sorted((ROOT / package).rglob("*.py")):
            if not is_tooling(file):
                yield file
