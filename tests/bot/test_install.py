"""`make install` (bot/install.py): parallel steps, progress read from pip, skips, failures."""

from __future__ import annotations

import ast
import io
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bot import install
from bot.install import Installer, PipProgress, hint_for, wheel_cache
from bot.progress import Board


def installer(out: io.StringIO, tmp_path: Path, **env: str) -> Installer:
    environment = {"LLAMA_WHEEL_CACHE": str(tmp_path / "wheels"), **env}
    return Installer(Board(out=out, live=False), sys.executable, sys.executable, env=environment)


# The modules of ours the installer may import: standard library only themselves.
STDLIB_ONLY = {"bot.paths", "bot.progress", "bot.settings", "envvars", "envvars.core",
               "models.settings"}  # fmt: skip


@pytest.mark.parametrize("module", ["bot/install.py", *(
    f"{name.replace('.', '/')}.py" for name in sorted(STDLIB_ONLY - {"envvars"}))])  # fmt: skip
def test_the_installer_needs_nothing_but_the_standard_library(module: str) -> None:
    """It runs with the Makefile's Python 3.11 before any virtualenv exists."""
    tree = ast.parse((Path(__file__).parents[2] / module).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module == "bot":
            imported |= {f"bot.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module)
    ours = {name for name in imported if name.split(".")[0] not in sys.stdlib_module_names}
    assert ours - {"__future__"} <= STDLIB_ONLY


def test_the_installer_starts_without_any_installed_package() -> None:
    """`python -S`: no site-packages, as before the first `make install`."""
    done = subprocess.run(
        [sys.executable, "-S", "-c", "import bot.install, bot.progress"],
        cwd=Path(__file__).parents[2], capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_pip_output_reads_as_progress() -> None:
    progress = PipProgress()
    lines = [
        "Looking in indexes: https://pypi.org/simple",
        "Collecting numpy==1.26.4 (from -r requirements/main.txt (line 3))",
        "  Downloading numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl (18.2 MB)",
        "Requirement already satisfied: six in ./.venv/lib/python3.11/site-packages",
        "Processing /opt/wheels/torch-2.13.0-cp311-cp311-linux_x86_64.whl",
        "Installing collected packages: six, numpy, torch",
        "  Building wheel for llama-cpp-python (pyproject.toml): started",
        "  [12/150] Building C object vendor/llama.cpp/ggml/src/ggml.c.o",
        "  [ 45%] Building CXX object common/arg.cpp.o",
    ]
    statuses = [progress.read(line) for line in lines]

    assert statuses == [
        None,
        "1 packages collected",
        "1 packages collected, downloading numpy (18.2 MB)",
        "2 packages collected",
        "3 packages collected",
        "installing 3 packages",
        "building llama-cpp-python",
        "compiling llama.cpp 8%",
        "compiling llama.cpp 45%",
    ]
    assert progress.summary() == "3 packages installed"
    assert PipProgress(collected=4).summary() == "nothing new to install"


@pytest.mark.parametrize(
    ("log", "fix"),
    [
        ("ERROR: No matching distribution found for rasa==3.6.21", "not on the package index"),
        ("OSError: [Errno 28] No space left on device", "free some disk space"),
        ("CMake Error: CMAKE_CXX_COMPILER not set", "apt-get install build-essential"),
        (
            "Failed to establish a new connection: Temporary failure in name resolution",
            "could not be reached",
        ),  # fmt: skip
        ("something nobody foresaw", "resumes where it stopped"),
    ],
)
def test_a_failure_comes_with_its_likely_fix(log: str, fix: str) -> None:
    assert fix in hint_for(log)


def test_a_failed_step_names_itself_its_log_and_the_fix_and_keeps_noise_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(install, "LOGS", tmp_path / "logs")
    out = io.StringIO()
    script = (
        "print(\"WARNING: Location 'file:///opt/pypi-more/simple/x/' is ignored: it is neither\")\n"
        "print('Collecting rasa==9.9')\n"
        "print('ERROR: No matching distribution found for rasa==9.9')\n"
        "raise SystemExit(1)\n"
    )
    pip = tmp_path / "fake_pip.py"
    pip.write_text(script)
    with pytest.raises(install.InstallError) as raised:
        installer(out, tmp_path)._step("rasa", "Rasa env", [[sys.executable, str(pip)]])

    shown = out.getvalue()
    assert "✗ Rasa env failed: `python" in shown and "exited with 1" in shown
    assert "No matching distribution found for rasa==9.9" in shown
    assert f"log: {tmp_path / 'logs' / 'rasa.log'}" in shown
    assert "likely fix: a pinned package is not on the package index" in shown
    assert "is ignored" not in shown
    log = (tmp_path / "logs" / "rasa.log").read_text()
    assert "Collecting rasa==9.9" in log and "is ignored" not in log
    assert raised.value.step == "Rasa env"


def test_steps_whose_inputs_did_not_change_are_skipped_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = io.StringIO()
    steps = installer(out, tmp_path)
    stamp = tmp_path / ".installed"
    monkeypatch.setattr(install, "MAIN_STAMP", stamp)
    ran: list[str] = []
    monkeypatch.setattr(steps, "_step", lambda key, *a, **k: ran.append(key))

    steps.main_env()  # no stamp: it installs and writes the stamp
    assert ran == ["main"] and len(stamp.read_text().strip()) == 16
    steps.main_env()
    assert ran == ["main"]
    assert "· main env (.venv): up to date" in out.getvalue()

    requirements = tmp_path / "requirements"
    requirements.mkdir()
    (requirements / "main.txt").write_text("numpy==2.0\n")
    (requirements / "encoder.txt").write_text("")
    monkeypatch.setattr(install, "REQUIREMENTS", requirements)
    steps.main_env()  # a requirement changed: installed again
    assert ran == ["main", "main"]
    assert out.getvalue().count("up to date") == 1


def test_the_two_envs_install_at_once_and_one_failing_does_not_stop_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = io.StringIO()
    steps = installer(out, tmp_path)
    spans: dict[str, tuple[float, float]] = {}

    def main_env() -> None:
        started = time.monotonic()
        time.sleep(0.4)
        spans["main"] = (started, time.monotonic())

    def rasa_env() -> None:
        started = time.monotonic()
        time.sleep(0.4)
        spans["rasa"] = (started, time.monotonic())
        raise install.InstallError("Rasa env", "failed", tmp_path, "fix")

    monkeypatch.setattr(steps, "main_env", main_env)
    monkeypatch.setattr(steps, "rasa_env", rasa_env)

    assert install.install(steps, generator=False) == 1
    (main_start, main_end), (rasa_start, rasa_end) = spans["main"], spans["rasa"]
    assert main_start < rasa_end and rasa_start < main_end  # they overlapped
    assert "1 step(s) failed" in out.getvalue()


def test_llama_cpp_is_built_once_per_flags_into_a_cache_outside_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = io.StringIO()
    steps = installer(out, tmp_path)
    builds: list[dict[str, str]] = []

    def build(key: str, title: str, commands: list[list[str]], **kw: object) -> None:
        builds.append(kw["env"])  # type: ignore[arg-type]
        assert "--no-cache-dir" in commands[0] and "--no-deps" in commands[0]
        assert kw["nice"] == install.LOWEST_PRIORITY
        target = Path(commands[0][commands[0].index("-w") + 1])
        target.mkdir(parents=True, exist_ok=True)
        (target / "llama_cpp_python-0.3.36-cp311-cp311-linux_x86_64.whl").write_bytes(b"w")

    monkeypatch.setattr(steps, "_step", build)

    first = steps.generator_wheel()
    again = steps.generator_wheel()
    assert first == again and first is not None and first.read_bytes() == b"w"
    assert len(builds) == 1 and builds[0] == {"CMAKE_ARGS": install.DEFAULT_CMAKE_ARGS}
    assert "llama.cpp: built earlier" in out.getvalue()
    assert first.parent.parent == tmp_path / "wheels"

    steps.cmake_args = "-DGGML_CUDA=on"
    gpu = steps.generator_wheel()
    assert len(builds) == 2 and gpu is not None and gpu.parent != first.parent


@pytest.mark.parametrize("has_pip", [True, False])
def test_the_build_uses_a_pip_that_is_there_even_while_the_main_env_is_being_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, has_pip: bool
) -> None:
    """Side by side with the main env's step, whose interpreter exists before its pip does
    (a first `make install` failed so): Python 3.11's own pip, else the main env's after it."""
    python = tmp_path / "python3.11"
    refuse_pip = "" if has_pip else 'if [ "$1" = "-m" ]; then exit 1; fi\n'
    python.write_text(f'#!/bin/sh\n{refuse_pip}exec {sys.executable} "$@"\n')
    python.chmod(0o755)
    steps = Installer(Board(out=io.StringIO(), live=False), str(python), sys.executable,
                      env={"LLAMA_WHEEL_CACHE": str(tmp_path / "wheels")})  # fmt: skip
    runners: list[str] = []

    def build(key: str, title: str, commands: list[list[str]], **kw: object) -> None:
        runners.append(commands[0][0])
        target = Path(commands[0][commands[0].index("-w") + 1])
        target.mkdir(parents=True, exist_ok=True)
        (target / "llama_cpp_python-0.3.36-cp311-cp311-linux_x86_64.whl").write_bytes(b"w")

    monkeypatch.setattr(steps, "_step", build)
    building = threading.Thread(target=steps.generator_wheel)
    building.start()
    building.join(timeout=10)
    if has_pip:
        assert runners == [str(python)]
        return
    assert building.is_alive() and runners == []  # waits for the main env
    steps.main_env_ended.set()
    building.join(timeout=30)
    assert runners == [str(install.MAIN_VENV / "bin" / "python")]


def test_the_wheel_cache_lives_in_the_users_cache_unless_named() -> None:
    assert wheel_cache({"LLAMA_WHEEL_CACHE": "/srv/w"}) == Path("/srv/w")
    assert wheel_cache({"XDG_CACHE_HOME": "/c"}) == Path("/c/erp-assistant/wheels")


def test_a_missing_interpreter_is_a_clear_failure(tmp_path: Path) -> None:
    out = io.StringIO()
    steps = Installer(Board(out=out, live=False), sys.executable, str(tmp_path / "python3.10"))
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(install.install(
        steps, envs=True, generator=False)))  # fmt: skip
    steps.main_env = lambda: None  # type: ignore[method-assign]
    thread.start()
    thread.join(timeout=60)
    assert result == [1]
    assert f"{tmp_path / 'python3.10'} does not run" in out.getvalue()
    assert "PYTHON310=" in str(steps.errors[0].hint)
