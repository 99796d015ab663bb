"""What the production image's build context holds: no tests, no offline tooling, and every
process's entry point imports from it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.runtime_env import ENTRY_POINTS, build_context, ignored_patterns, left_out


@pytest.mark.parametrize(
    ("relative", "out"),
    [
        ("benchmarks/load/run.py", True),
        ("training/train.py", True),
        ("demo/traffic/plan.py", True),
        ("tests/test_boundaries.py", True),
        ("bot/__pycache__/cli.cpython-311.pyc", True),
        ("demo/seed.py", False),
        ("models/server.py", False),
        ("models/adapters/gemma-3-270m-erp/README.md", False),
    ],
)
def test_the_context_leaves_out_tests_and_tooling(relative: str, out: bool) -> None:
    assert left_out(relative, ignored_patterns()) is out


def test_every_entry_point_imports_from_the_context_alone(tmp_path: Path) -> None:
    counts = build_context(tmp_path)

    assert not (tmp_path / "benchmarks").exists() and not (tmp_path / "training").exists()
    assert (tmp_path / "demo" / "seed.py").is_file()
    assert counts["python_lines_in_image"] > counts["python_lines_left_out"] > 0
    script = f"import importlib\nfor name in {ENTRY_POINTS!r}: importlib.import_module(name)\n"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
