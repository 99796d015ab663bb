"""Every `python -m` command the Makefile runs exists and parses its options: a module or
sub-command renamed without its make target fails here, not in a benchmark run weeks later."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.layout import ROOT

# `$(PY) -m module [sub-command]`: the sub-command is a lower-case word that is not an option.
COMMAND = re.compile(r"\$\(PY\) -m ([\w.]+)((?: [a-z][\w-]*)?)")
# Modules that are not ours (pytest, venv) or whose --help starts what they run.
NOT_OURS = {"pytest", "venv", "pip"}


def make_commands() -> list[tuple[str, ...]]:
    found = set()
    for file in [ROOT / "Makefile", *sorted((ROOT / "mk").glob("*.mk"))]:
        for module, sub in COMMAND.findall(file.read_text()):
            if module.split(".")[0] not in NOT_OURS:
                found.add((module, *sub.split()))
    return sorted(found)


def test_the_makefile_runs_the_renamed_tooling() -> None:
    modules = {command[0] for command in make_commands()}
    assert {"benchmarks.startup", "training", "demo", "benchmarks.retrieval"} <= modules
    assert not {m for m in modules if m.startswith(("bot.bench", "erp.bench", "models.bench"))}


@pytest.mark.parametrize("command", make_commands(), ids=" ".join)
def test_each_make_command_parses_its_options(command: tuple[str, ...]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", *command, "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-1500:]
    assert "usage:" in done.stdout
