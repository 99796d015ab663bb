"""The steps board of `make install` / `make run`: a line per step, a status while they run."""

from __future__ import annotations

import io
import re
import time

from bot.progress import Board, clock_text, duration_text, since_start


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_times_read_as_people_write_them() -> None:
    assert clock_text(83.2) == "1:23"
    assert clock_text(3723) == "1:02:03"
    assert duration_text(8.4) == "8 s"
    assert duration_text(83) == "1 min 23 s"


def test_each_step_gets_a_line_with_its_note_its_time_and_the_elapsed_time() -> None:
    out, clock = io.StringIO(), Clock()
    board = Board(out=out, live=False, clock=clock, offset=0.0)

    board.start("erp", "demo ERP")
    clock.now += 4
    board.done("erp", "1,000 customers")
    board.skipped("main env", "up to date")
    board.start("train", "Rasa model")
    clock.now += 80
    board.failed("train", "rasa exited with 1", ["last line", "log: var/logs/train.log"])

    lines = out.getvalue().splitlines()
    assert lines[0] == "[   0:04] ✓ demo ERP: 1,000 customers (4 s)"
    assert lines[1] == "[   0:04] · main env: up to date"
    assert lines[2] == "[   1:24] ✗ Rasa model failed: rasa exited with 1"
    assert lines[3:] == ["      last line", "      log: var/logs/train.log"]


def test_the_elapsed_time_counts_from_the_start_of_the_make_command() -> None:
    assert since_start({"PROGRESS_SINCE": "1000.5"}, now=1090.5) == 90.0
    for wrong in ("", "soon", "2000", "1"):  # unset, unreadable, in the future, a day old
        assert since_start({"PROGRESS_SINCE": wrong}, now=100000.0) == 0.0
    out = io.StringIO()
    Board(out=out, live=False, offset=90.0).note("Ready.")
    assert out.getvalue().startswith("[   1:30]   Ready.")


def test_running_steps_share_one_status_text() -> None:
    clock = Clock()
    board = Board(out=io.StringIO(), live=False, clock=clock)
    board.start("main", "main env")
    board.start("rasa", "Rasa env")
    clock.now += 30
    board.update("main", "installing 132 packages")
    board.update("gone", "ignored: not running")

    assert board.status_text() == (
        "main env: installing 132 packages (30 s) | Rasa env: working (30 s)"
    )
    board.done("main")
    assert board.status_text().startswith("Rasa env: working")


def test_in_a_log_the_status_is_a_line_every_heartbeat_so_a_long_step_never_looks_hung() -> None:
    out = io.StringIO()
    with Board(out=out, live=False, heartbeat=0.2) as board:
        board.start("build", "llama.cpp")
        board.update("build", "compiling llama.cpp 42%")
        time.sleep(1.3)
    beats = [line for line in out.getvalue().splitlines() if "…" in line]
    assert beats, out.getvalue()
    assert all("llama.cpp: compiling llama.cpp 42%" in line for line in beats)
    assert "\r" not in out.getvalue()


def test_on_a_terminal_the_status_line_is_rewritten_in_place_and_cleared_for_lines() -> None:
    out = io.StringIO()
    with Board(out=out, live=True, offset=0.0) as board:
        board.start("main", "main env")
        time.sleep(0.8)
        board.done("main", "7 packages installed")
    text = out.getvalue()
    assert "\r\x1b[K[" in text  # the live line, rewritten
    done = re.search(r"\r\x1b\[K\[ +0:0\d\] ✓ main env: 7 packages installed", text)
    assert done, repr(text)  # the live line cleared before the step's own line
    assert text.endswith("\n")
