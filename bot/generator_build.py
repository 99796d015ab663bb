"""The generator's llama.cpp, built in the background while the assistant already answers.

llama-cpp-python has no Linux wheel on PyPI: on a fresh machine it compiles for minutes. The
assistant does not need it to answer (templates and passages), so `make run` starts without
it: the launcher runs `python -m bot.install --generator-only` at the lowest CPU priority,
starts the other processes, and starts the generator's server when the build is done. The
action servers already point at that server's URL: their first answer after it is up is
generated, with no restart (until then a refused connection makes each answer templated).

Example:
    >>> build = GeneratorBuild.begin()        # None when llama.cpp is there already
    >>> if build is not None and build.finished() == 0:
    ...     start the generator's server
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot import paths
from bot.install import LOGS, LOWEST_PRIORITY, PipProgress
from bot.settings import LLAMA_CMAKE_ARGS, PYTHON311, environment
from models.priority import set_autogroup_nice

OUTPUT = paths.LOGS_DIR / "generator-build.log"
PIP_LOG = LOGS / "generator.log"
TAIL_BYTES = 64 * 1024


def llama_installed() -> bool:
    """Whether the main env can import llama_cpp (the generator server's backend)."""
    importlib.invalidate_caches()
    return importlib.util.find_spec("llama_cpp") is not None


def build_command(env: Mapping[str, str] | None = None) -> list[str]:
    """The installer's generator step, with the Makefile's Python and llama.cpp flags (from
    ``env``, default the process's environment)."""
    env = environment(env)
    command = [sys.executable, "-m", "bot.install", "--generator-only"]
    if python := PYTHON311.read(env):
        command += ["--python311", python]
    if cmake_args := LLAMA_CMAKE_ARGS.read(env):
        command += ["--cmake-args", cmake_args]
    return command


def lowest_priority() -> None:
    """In the build's child, after it got a session of its own: the lowest niceness for it and
    for its session's scheduling group. With Linux's autogroups (on by default) each session
    is a group that competes with the others as an equal whatever its processes' niceness:
    niceness alone let the compiler take half of the 2 cores from `make run`'s own steps."""
    os.nice(LOWEST_PRIORITY)
    set_autogroup_nice(LOWEST_PRIORITY)


@dataclass
class GeneratorBuild:
    """A running background build of llama.cpp (`bot.install --generator-only`)."""

    process: subprocess.Popen[bytes]
    output: Path = OUTPUT
    pip_log: Path = PIP_LOG
    _code: int | None = field(default=None)

    @classmethod
    def begin(cls, command: list[str] | None = None, output: Path = OUTPUT) -> GeneratorBuild:
        """Start the build at the lowest CPU priority, its output in ``output``."""
        output.parent.mkdir(parents=True, exist_ok=True)
        with output.open("wb") as log:
            process = subprocess.Popen(
                command or build_command(), cwd=paths.ROOT, stdout=log,
                stderr=subprocess.STDOUT, preexec_fn=lowest_priority,
                # Its own session: Ctrl-C reaches the launcher, which stops it (`stop`).
                start_new_session=True,
            )  # fmt: skip
        return cls(process, output)

    def finished(self) -> int | None:
        """The build's exit code once it ended, else None."""
        if self._code is None:
            self._code = self.process.poll()
        return self._code

    def status(self) -> str:
        """How far the compilation is ("compiling llama.cpp 42%"), from pip's log."""
        progress = PipProgress()
        for line in _tail(self.pip_log).splitlines():
            progress.read(line)
        return progress.status

    def failure(self) -> list[str]:
        """The installer's last lines (the failed step, its log and the likely fix)."""
        lines = [line.strip() for line in _tail(self.output).splitlines() if line.strip()]
        return lines[-6:]

    def stop(self) -> None:
        """End the build (the assistant is stopping): its partial wheel is thrown away."""
        if self.finished() is None:
            try:
                os.killpg(self.process.pid, 15)
                self.process.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.process.pid, 9)
                self.process.wait()


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as file:
            file.seek(max(0, path.stat().st_size - TAIL_BYTES))
            return file.read().decode(errors="replace")
    except OSError:
        return ""
