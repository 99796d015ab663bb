"""The generator built in the background on a first `make run`, then started without a restart."""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

import pytest

from bot import generator_build, launcher
from bot.generator_build import GeneratorBuild, build_command
from bot.install import LOWEST_PRIORITY
from bot.processes import Service, Supervisor
from bot.progress import Board
from bot.settings import free_port

FAKE_BUILD = """
import sys, time
pip_log, code, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
with open(pip_log, "w") as log:
    log.write("Collecting llama-cpp-python==0.3.36\\n")
    log.write("  [37/150] Building C object vendor/llama.cpp/ggml/src/ggml.c.o\\n")
print("[   0:01] ✗ llama.cpp failed: pip exited with 1")
print("      likely fix: llama.cpp needs a C/C++ compiler")
sys.stdout.flush()
time.sleep(seconds)
raise SystemExit(code)
"""


def fake_build(tmp_path: Path, code: int = 0, seconds: float = 0.0) -> GeneratorBuild:
    script = tmp_path / "build.py"
    script.write_text(FAKE_BUILD)
    pip_log = tmp_path / "pip.log"
    build = GeneratorBuild.begin(
        [sys.executable, str(script), str(pip_log), str(code), str(seconds)],
        output=tmp_path / "build.log",
    )
    build.pip_log = pip_log
    return build


def wait_for(build: GeneratorBuild) -> int:
    deadline = time.monotonic() + 30
    while (code := build.finished()) is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return code


def test_the_build_runs_at_the_lowest_priority_and_reports_how_far_it_is(tmp_path: Path) -> None:
    build = fake_build(tmp_path, seconds=1.0)
    try:
        assert os.getpriority(os.PRIO_PROCESS, build.process.pid) == LOWEST_PRIORITY
        deadline = time.monotonic() + 10
        while build.status() != "compiling llama.cpp 24%":
            assert time.monotonic() < deadline, build.status()
            time.sleep(0.05)
        assert build.finished() is None
    finally:
        build.stop()


def test_a_failed_build_gives_the_installers_last_lines(tmp_path: Path) -> None:
    build = fake_build(tmp_path, code=1)
    assert wait_for(build) == 1
    assert build.failure()[-1] == "likely fix: llama.cpp needs a C/C++ compiler"


def test_stopping_the_assistant_stops_the_build(tmp_path: Path) -> None:
    build = fake_build(tmp_path, seconds=60)
    started = time.monotonic()
    build.stop()
    assert build.finished() is not None
    assert time.monotonic() - started < 10


def test_the_build_uses_the_makefiles_python_and_llama_flags(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYTHON311", "/usr/bin/python3.11")
    monkeypatch.setenv("LLAMA_CMAKE_ARGS", "-DGGML_CUDA=on")
    command = build_command()
    assert command[1:4] == ["-m", "bot.install", "--generator-only"]
    assert command[4:] == ["--python311", "/usr/bin/python3.11", "--cmake-args", "-DGGML_CUDA=on"]


def health_server(tmp_path: Path) -> Service:
    port = free_port()
    return Service(
        name="generator",
        command=[sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                 "--directory", str(tmp_path)],
        health_url=f"http://127.0.0.1:{port}/",
        env=dict(os.environ),
        log_file=tmp_path / "generator.log",
        essential=False,
    )  # fmt: skip


def ended_build(tmp_path: Path, code: int) -> tuple[io.StringIO, Board, GeneratorBuild]:
    """A board showing the build step, and a fake build that ended with ``code``."""
    out = io.StringIO()
    board = Board(out=out, live=False)
    board.start(launcher.BUILD_KEY, launcher.BUILD_TITLE)
    build = fake_build(tmp_path, code=code)
    wait_for(build)
    return out, board, build


def test_a_finished_build_starts_the_generator_and_says_when_it_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, board, build = ended_build(tmp_path, 0)
    service = health_server(tmp_path)
    supervisor = Supervisor([], report=board.note)
    monkeypatch.setattr(launcher, "llama_installed", lambda: True)
    try:
        assert launcher._build_progress(board, build, service, supervisor) is True
        deadline = time.monotonic() + 20
        while "Generator ready" not in out.getvalue():
            assert time.monotonic() < deadline, out.getvalue()
            supervisor.check()
            time.sleep(0.1)
    finally:
        service.stop()
    shown = out.getvalue()
    assert "✓ generator: building llama.cpp in the background: built" in shown
    assert "Generator ready: answers are generated from now on (no restart needed)." in shown
    assert "back up" not in shown


def test_a_failed_build_leaves_the_assistant_on_templates_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, board, build = ended_build(tmp_path, 1)
    service = health_server(tmp_path)
    monkeypatch.setattr(launcher, "llama_installed", lambda: False)

    assert launcher._build_progress(board, build, service, Supervisor([])) is True

    shown = out.getvalue()
    assert "✗ generator: building llama.cpp in the background failed: the build exited with 1" in (
        shown
    )
    assert "likely fix: llama.cpp needs a C/C++ compiler" in shown
    assert "goes on with templates and passages" in shown
    assert service.process is None  # never started


def test_a_running_build_shows_its_progress_while_the_other_steps_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = Board(out=io.StringIO(), live=False)
    fake = fake_build(tmp_path, seconds=30)
    monkeypatch.setattr(launcher.GeneratorBuild, "begin", lambda: fake)
    build = launcher._begin_build(board, launcher.GeneratorPlan(True, "x", build=True))
    assert build is not None
    try:
        deadline = time.monotonic() + 10
        while "compiling llama.cpp 24%" not in board.status_text():
            assert time.monotonic() < deadline, board.status_text()
            time.sleep(0.05)
        assert (
            launcher._build_progress(board, build, health_server(tmp_path), Supervisor([])) is False
        )
    finally:
        build.stop()


def test_the_banner_says_which_answers_the_user_gets(tmp_path: Path) -> None:
    build = fake_build(tmp_path, seconds=30)
    try:
        waiting = launcher.GeneratorPlan(True, "llama_cpp, ...", build=True)
        mode = launcher._answer_mode(waiting, [health_server(tmp_path)], build)
        assert mode.startswith("templates and passages for now; generated wording comes on")
    finally:
        build.stop()
    ready = launcher._answer_mode(launcher.GeneratorPlan(True, "x"), [], None)
    assert ready.startswith("generated")
    off = launcher.GeneratorPlan(False, "off (GENERATOR_BACKEND=off): extractive and templated")
    assert launcher._answer_mode(off, [], None).startswith("templates and passages (generator off")


def test_llama_is_looked_up_in_the_running_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generator_build.importlib.util, "find_spec", lambda name: None)
    assert generator_build.llama_installed() is False


def test_the_builds_session_group_is_lowered_too_so_nice_counts_across_sessions(
    tmp_path: Path,
) -> None:
    """With autogroups on, a session of its own competes as an equal whatever its niceness:
    the build's group gets niceness 19 as well."""
    autogroup = Path("/proc/self/autogroup")
    if not autogroup.exists():
        pytest.skip("this kernel has no autogroups")
    build = fake_build(tmp_path, seconds=5)
    try:
        deadline = time.monotonic() + 5
        while "nice 19" not in (shown := Path(f"/proc/{build.process.pid}/autogroup").read_text()):
            assert time.monotonic() < deadline, shown
            time.sleep(0.05)
        assert "nice 19" not in autogroup.read_text()  # the launcher's own group is untouched
    finally:
        build.stop()


def test_a_second_make_run_is_refused_while_the_first_holds_its_ports() -> None:
    import socket

    from bot.settings import Ports

    ports = Ports.free()
    assert launcher.ports_in_use(ports) == ""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ports.rasa))
        taken.listen()
        assert launcher.ports_in_use(ports) == f"port {ports.rasa} (Rasa)"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ports.generator))
        taken.listen()
        assert launcher.ports_in_use(ports) == f"port {ports.generator} (generator)"
        assert launcher.ports_in_use(ports, generator=False) == ""  # none started here
