"""What `make install` and `make run` show while they work: one line per step, a live status.

Standard library only: the installer (bot/install.py) runs it before any virtualenv exists.

Every line starts with the time since the command began (PROGRESS_SINCE, the epoch seconds the
Makefile sets once per `make`, so the installer's and the launcher's lines count from the same
start; else since the board opened), so a newcomer sees the whole run's elapsed time as well as
each step's. On a terminal the steps still running share one status
line, rewritten twice a second ("main env: installing 132 packages | Rasa env: 84 packages
collected"); in a log (CI, `make run > file`) the same status is printed as a line of its own
every ``heartbeat`` seconds, so a long step never looks hung.

Example:
    >>> with Board() as board:
    ...     board.start("seed", "demo ERP")
    ...     board.update("seed", "12,000 orders")
    ...     board.done("seed", "seeded")
    [  0:03] ✓ demo ERP: seeded (3 s)
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO, TextIO

from bot.settings import PROGRESS_SINCE, environment

REFRESH_S = 0.5
HEARTBEAT_S = 30.0
SINCE = PROGRESS_SINCE.name
DAY_S = 86400.0


def since_start(env: dict[str, str] | None = None, now: float | None = None) -> float:
    """Seconds since PROGRESS_SINCE (0 when unset, unreadable, in the future or a day old)."""
    since = PROGRESS_SINCE.read(environment(env))
    if since is None:
        return 0.0
    offset = (time.time() if now is None else now) - since
    return offset if 0 <= offset < DAY_S else 0.0


def output_lines(stream: IO[bytes]) -> Iterator[str]:
    """A child process's output line by line, split at \\r too (progress bars rewrite their
    line with it), empty lines left out."""
    read = getattr(stream, "read1", stream.read)  # read1: what has come, without waiting
    pending = b""
    while chunk := read(65536):
        pending += chunk
        *complete, pending = re.split(rb"[\r\n]", pending)
        for line in complete:
            if line.strip():
                yield line.decode(errors="replace")
    if pending.strip():
        yield pending.decode(errors="replace")


def clock_text(seconds: float) -> str:
    """``83.2`` -> ``1:23``; an hour or more as ``1:02:03``."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def duration_text(seconds: float) -> str:
    """``8.4`` -> ``8 s``, ``83`` -> ``1 min 23 s``."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    return f"{whole // 60} min {whole % 60:02d} s"


@dataclass
class _Running:
    title: str
    started: float
    status: str = ""


@dataclass
class Board:
    """The steps of one command, printed to ``out`` (default stdout).

    ``live``: rewrite one status line in place (default: when ``out`` is a terminal).
    """

    out: TextIO = field(default_factory=lambda: sys.stdout)
    live: bool | None = None
    heartbeat: float = HEARTBEAT_S
    clock: Callable[[], float] = time.monotonic
    _opened: float = 0.0
    # Seconds the command had run before this board opened (PROGRESS_SINCE).
    offset: float = field(default_factory=since_start)
    _running: dict[str, _Running] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _shown: bool = False
    _last_beat: float = 0.0

    def __post_init__(self) -> None:
        if self.live is None:
            self.live = bool(getattr(self.out, "isatty", lambda: False)())
        self._opened = self._last_beat = self.clock()

    def __enter__(self) -> Board:
        self._thread = threading.Thread(target=self._refresh, name="progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._lock:
            self._clear()

    def elapsed(self) -> float:
        """Seconds since the command began (or the board opened)."""
        return self.clock() - self._opened + self.offset

    def start(self, key: str, title: str, status: str = "") -> None:
        """A step begins (shown in the status until it is done or failed)."""
        with self._lock:
            self._running[key] = _Running(title, self.clock(), status)

    def update(self, key: str, status: str) -> None:
        """What a running step is doing now ("installing 132 packages", "42%")."""
        with self._lock:
            if key in self._running:
                self._running[key].status = status

    def done(self, key: str, note: str = "") -> float:
        """A step finished: one line with its note and duration. Returns its seconds."""
        with self._lock:
            step = self._running.pop(key, None)
            seconds = self.clock() - step.started if step else 0.0
            title = step.title if step else key
            self._line("✓", f"{title}{': ' + note if note else ''} ({duration_text(seconds)})")
            return seconds

    def skipped(self, title: str, why: str) -> None:
        """A step that had nothing to do: one line saying why."""
        with self._lock:
            self._line("·", f"{title}: {why}")

    def note(self, text: str) -> None:
        """A line of information between the steps."""
        with self._lock:
            self._line(" ", text)

    def failed(self, key: str, why: str, details: list[str] | None = None) -> None:
        """A step failed: a line saying which and why, then ``details`` indented."""
        with self._lock:
            step = self._running.pop(key, None)
            title = step.title if step else key
            self._line("✗", f"{title} failed: {why}")
            for detail in details or []:
                self.out.write(f"      {detail}\n")
            self.out.flush()

    def status_text(self) -> str:
        """The running steps, ``title: status`` joined by `` | ``."""
        with self._lock:
            return self._status()

    def _status(self) -> str:
        parts = []
        for step in self._running.values():
            waited = duration_text(self.clock() - step.started)
            parts.append(f"{step.title}: {step.status or 'working'} ({waited})")
        return " | ".join(parts)

    def _line(self, mark: str, text: str) -> None:
        self._clear()
        self.out.write(f"[{clock_text(self.elapsed()):>7}] {mark} {text}\n")
        self.out.flush()
        self._last_beat = self.clock()

    def _clear(self) -> None:
        if self.live and self._shown:
            self.out.write("\r\033[K")
            self._shown = False

    def _refresh(self) -> None:
        while not self._stop.wait(REFRESH_S):
            with self._lock:
                status = self._status()
                if not status:
                    self._clear()
                    continue
                line = f"[{clock_text(self.elapsed()):>7}] … {status}"
                if self.live:
                    width = 160
                    self.out.write("\r\033[K" + line[:width])
                    self._shown = True
                    self.out.flush()
                elif self.clock() - self._last_beat >= self.heartbeat:
                    self.out.write(line + "\n")
                    self.out.flush()
                    self._last_beat = self.clock()
