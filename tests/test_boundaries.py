"""The packages' one-way flow (shared/STYLE.md), checked on every import statement, also those
inside functions: `make lint` runs this file.

- erp/, retrieval/, models/ and i18n/ are libraries: none imports actions/, connectors/ or bot/;
- erp/ and retrieval/ know nothing of each other; i18n/, envvars/ (typed environment
  variables) and contracts/ (payloads between processes) import none of the project's packages;
- actions/ and connectors/ never import each other (they meet through Rasa, over HTTP);
- no runtime package imports the offline tooling (benchmarks/, training/, demo/), except that
  bot/'s setup seeds the demo ERP (demo.seed) on an empty database.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOLING = frozenset({"benchmarks", "demo", "training"})
RUNTIME = (
    "actions", "bot", "connectors", "contracts", "envvars", "erp", "i18n", "models", "retrieval"
)  # fmt: skip
PACKAGES = (*RUNTIME, *sorted(TOOLING))
LEAVES = ("contracts", "envvars", "i18n")
FORBIDDEN: dict[str, frozenset[str]] = {
    "erp": frozenset({"actions", "connectors", "bot", "retrieval"}) | TOOLING,
    "retrieval": frozenset({"actions", "connectors", "bot", "erp"}) | TOOLING,
    "models": frozenset({"actions", "connectors", "bot"}) | TOOLING,
    **{leaf: frozenset(PACKAGES) - {leaf} for leaf in LEAVES},
    "actions": frozenset({"connectors", "bot"}) | TOOLING,
    "connectors": frozenset({"actions", "bot"}) | TOOLING,
    "bot": TOOLING - {"demo"},
}


def imported_packages(source: str) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def crossings(package: str) -> list[str]:
    """``file:line imports X`` for each import of ``package`` that its rules forbid."""
    forbidden = FORBIDDEN[package]
    wrong = []
    for file in sorted((ROOT / package).rglob("*.py")):
        for line, imported in imported_packages(file.read_text()):
            if imported in forbidden:
                wrong.append(f"{file.relative_to(ROOT)}:{line} imports {imported}")
    return wrong


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_the_package_keeps_the_one_way_flow(package: str) -> None:
    assert crossings(package) == []


def test_the_check_sees_imports_inside_functions_and_names_the_line() -> None:
    source = "import os\n\ndef f():\n    from connectors.gateway import app\n    import bot.paths\n"
    assert imported_packages(source) == [(1, "os"), (4, "connectors"), (5, "bot")]
