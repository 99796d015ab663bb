"""The requirement sets: runtime (what a production image installs), training and dev, which
requirements/main.txt adds up for a checkout. No runtime module imports a distribution that
only the training or dev set installs (`make lint` runs this; `make bench-runtime-env` proves
the runtime set on its own)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from importlib.metadata import packages_distributions
from pathlib import Path

from tests.layout import INSTALLER, ROOT, runtime_files, tooling_files

REQUIREMENTS = ROOT / "requirements"


def pins(name: str) -> set[str]:
    """Normalised distribution names pinned in requirements/``name``."""
    names = set()
    for line in (REQUIREMENTS / name).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            names.add(normalise(re.split(r"[\[=<>~!]", line)[0]))
    return names


def normalise(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def imported_modules(source: str) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module.split(".")[0])
    return modules


def test_main_is_the_runtime_training_and_dev_sets_which_do_not_overlap() -> None:
    includes = [
        line.split()[1]
        for line in (REQUIREMENTS / "main.txt").read_text().splitlines()
        if line.startswith("-r ")
    ]
    assert includes == ["runtime.txt", "training.txt", "dev.txt"]
    runtime, training, dev = pins("runtime.txt"), pins("training.txt"), pins("dev.txt")
    assert not (runtime & training) and not (runtime & dev) and not (training & dev)


def imports_of_only(files: Iterable[Path], sets: Iterable[str]) -> list[str]:
    """``file imports module (distributions)`` for each import in ``files`` of a distribution
    that only the requirement ``sets`` install."""
    only = set().union(*(pins(name) for name in sets))
    distributions = {
        module: {normalise(d) for d in names} for module, names in packages_distributions().items()
    }
    return [
        f"{file.relative_to(ROOT) if file.is_relative_to(ROOT) else file.name} imports {module} "
        f"({', '.join(sorted(needs))})"
        for file in files
        for module in sorted(imported_modules(file.read_text()))
        if (needs := distributions.get(module, set())) and needs <= only
    ]


def test_no_runtime_module_imports_what_only_training_or_dev_installs() -> None:
    wrong = imports_of_only(runtime_files(), ["training.txt", "dev.txt"])
    assert wrong == [], "move it to tooling or the distribution to runtime.txt: " + "; ".join(wrong)


def test_the_check_knows_the_dev_tools() -> None:
    offline = pins("dev.txt") | pins("training.txt")
    assert {"pytest", "selenium", "locust", "hypothesis", "gguf"} <= offline
    assert {"torch", "rasa-sdk", "sqlalchemy"} <= pins("runtime.txt")
    assert imported_modules("import pytest\nfrom selenium.webdriver import x\n") == {
        "pytest",
        "selenium",
    }


def test_every_module_of_the_packages_is_runtime_or_tooling() -> None:
    packages = [
        d for d in sorted(ROOT.iterdir()) if (d / "__init__.py").is_file() and d.name != "tests"
    ]
    files = {f for package in packages for f in package.rglob("*.py")}
    runtime, tooling = set(runtime_files()), set(tooling_files())
    assert not runtime & tooling
    assert files - runtime - tooling == {ROOT / INSTALLER}


def test_training_needs_only_the_runtime_and_training_sets() -> None:
    wrong = imports_of_only(sorted((ROOT / "training").rglob("*.py")), ["dev.txt"])
    assert wrong == [], "training/ runs with runtime.txt and training.txt: " + "; ".join(wrong)


def test_the_check_names_an_import_only_a_set_installs(tmp_path: Path) -> None:
    module = tmp_path / "probe.py"
    module.write_text("import pytest\nimport torch\n")

    assert imports_of_only([module], ["dev.txt"]) == ["probe.py imports pytest (pytest)"]
