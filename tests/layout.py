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
# The demo company's ERP data and its command: `make run` seeds it on an empty database and the
# production image's provisioning on request, so it holds to the runtime requirements too.
DEMO_SETUP = ("demo/__init__.py", "demo/__main__.py", "demo/seed.py")
# The installer runs before any virtualenv exists, with the standard library only; it reads the
# environment itself (there is no settings module to import yet).
INSTALLER = "bot/install.py"
# Offline tooling, each in a package of its own: benchmarks/ (and the load and attack
# generators, the fake platforms), training/ (the generator's fine-tuning), demo/traffic/ and
# the demo records the benchmarks and tests pick. They set variables for the code they measure
# and use the dev and training requirements.
TOOLING = ("benchmarks", "training", "demo/traffic", "demo/records.py")


def runtime_files() -> Iterator[Path]:
    """Every Python file a production image runs: the runtime packages and the demo seeding."""
    for package in RUNTIME:
        for file in sorted((ROOT / package).rglob("*.py")):
            if file.relative_to(ROOT).as_posix() != INSTALLER:
                yield file
    for name in DEMO_SETUP:
        yield ROOT / name


def tooling_files() -> Iterator[Path]:
    """Every Python file of the offline tooling."""
    for name in TOOLING:
        place = ROOT / name
        yield from sorted(place.rglob("*.py")) if place.is_dir() else [place]
