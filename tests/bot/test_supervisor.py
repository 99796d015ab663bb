"""The launcher's supervisor: a crashed service is restarted alone, with backoff, until it
crash-loops; tested on a fake clock and on a real process killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from bot.processes import (
    RestartPolicy,
    Service,
    ServiceFailed,
    Supervisor,
    describe_exit,
    wait_until_healthy,
)
from bot.settings import free_port


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeService(Service):
    """A service whose process is a flag: `crash()` makes it exit, `start()` runs it again."""

    def __init__(self, name: str) -> None:
        super().__init__(name, [], "http://unused", {}, Path(f"/logs/{name}.log"))
        self.code: int | None = None
        self.starts = 0
        self.answers = True
        self.leftovers_killed = 0

    def crash(self, code: int = 1) -> None:
        self.code = code

    def start(self) -> None:
        self.starts += 1
        self.code = None

    def exited(self) -> int | None:
        return self.code

    def healthy(self) -> bool:
        return self.code is None and self.answers

    def kill_leftovers(self) -> None:
        self.leftovers_killed += 1


def supervise(
    *services: FakeService, policy: RestartPolicy | None = None
) -> tuple[Supervisor, Clock, list[str]]:
    clock, reports = Clock(), []
    supervisor = Supervisor(list(services), policy=policy, clock=clock, report=reports.append)
    return supervisor, clock, reports


def test_a_crashed_service_is_restarted_after_the_first_delay_and_the_rest_left_alone() -> None:
    rasa, actions = FakeService("rasa"), FakeService("actions")
    supervisor, clock, reports = supervise(rasa, actions)

    actions.crash(code=-9)
    supervisor.check()
    assert reports == [
        "actions exited with code -9 (SIGKILL): see /logs/actions.log; restarting it in 1 s."
    ]
    assert actions.leftovers_killed == 1
    clock.now += 0.5
    supervisor.check()
    assert actions.starts == 0

    clock.now += 0.5
    supervisor.check()
    assert actions.starts == 1 and reports[-1].startswith("actions restarted (pid ")
    clock.now += 1
    supervisor.check()
    assert reports[-1] == "actions is back up."
    assert rasa.starts == 0 and rasa.leftovers_killed == 0


def test_each_restart_in_a_row_waits_twice_as_long_up_to_the_cap() -> None:
    service = FakeService("gateway")
    policy = RestartPolicy(max_restarts=100)
    supervisor, clock, reports = supervise(service, policy=policy)
    delays = []
    for _ in range(7):
        service.crash()
        supervisor.check()
        delays.append(float(reports[-1].rsplit(" in ", 1)[1].removesuffix(" s.")))
        clock.now += delays[-1]
        supervisor.check()

    assert delays == [1, 2, 4, 8, 16, 30, 30]
    assert service.starts == 7


def test_the_delay_starts_over_once_the_service_has_been_healthy_for_a_while() -> None:
    service = FakeService("rasa")
    supervisor, clock, reports = supervise(service)
    for _ in range(3):
        service.crash()
        supervisor.check()
        clock.now += 10
        supervisor.check()
    assert reports[-2].endswith("restarting it in 4 s.")

    supervisor.check()  # healthy again from now on
    clock.now += RestartPolicy().stable_after
    supervisor.check()
    service.crash()
    supervisor.check()

    assert reports[-1].endswith("restarting it in 1 s.")


def test_an_unhealthy_restarted_service_does_not_count_as_stable() -> None:
    service = FakeService("rasa")
    supervisor, clock, reports = supervise(service)
    service.crash()
    supervisor.check()
    clock.now += 1
    supervisor.check()
    service.answers = False  # up but never answering, e.g. stuck loading
    for _ in range(5):
        clock.now += 60
        supervisor.check()
    service.crash()
    supervisor.check()

    assert reports[-1].endswith("restarting it in 2 s.")
    assert "rasa is back up." not in reports


def test_a_crash_loop_stops_with_a_clear_message() -> None:
    service = FakeService("actions")
    supervisor, clock, reports = supervise(service)
    for _ in range(5):
        service.crash(code=3)
        supervisor.check()
        clock.now += 16
        supervisor.check()
    assert service.starts == 5

    service.crash(code=3)
    with pytest.raises(ServiceFailed) as raised:
        supervisor.check()

    assert str(raised.value) == (
        "actions exited with code 3, 6 exits within 120 s: it keeps crashing, see /logs/actions.log"
    )
    assert service.starts == 5


def test_crashes_spread_over_more_than_the_window_never_give_up() -> None:
    service = FakeService("gateway")
    supervisor, clock, _ = supervise(service)
    for _ in range(20):
        service.crash()
        supervisor.check()
        clock.now += 30
        supervisor.check()
        clock.now += 30

    assert service.starts == 20


def test_a_service_that_cannot_be_started_again_stops_everything() -> None:
    class Unstartable(FakeService):
        def start(self) -> None:
            raise FileNotFoundError(2, "No such file or directory", "rasa")

    service = Unstartable("rasa")
    supervisor, clock, _ = supervise(service)
    service.crash()
    supervisor.check()
    clock.now += 1

    with pytest.raises(ServiceFailed, match="cannot restart rasa: .*No such file"):
        supervisor.check()


@pytest.mark.parametrize(
    ("code", "text"),
    [(0, "exited with code 0"), (2, "exited with code 2"), (-15, "exited with code -15 (SIGTERM)")],
    ids=["clean", "error", "signal"],
)
def test_exit_codes_are_described(code: int, text: str) -> None:
    assert describe_exit(code) == text


# A small HTTP server that also leaves a grandchild in its session, as a server's workers do.
SERVER = """
import http.server, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
open(sys.argv[2], "a").write(f"{child.pid}\\n")
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Health).serve_forever()
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child of this test stays a zombie until reaped; that is not alive.
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"


def test_a_real_service_killed_with_sigkill_comes_back_and_its_leftovers_are_gone(
    tmp_path: Path,
) -> None:
    port = free_port()
    grandchildren = tmp_path / "grandchildren"
    service = Service(
        name="toy",
        command=[sys.executable, "-c", SERVER, str(port), str(grandchildren)],
        health_url=f"http://127.0.0.1:{port}/",
        env=dict(os.environ),
        log_file=tmp_path / "toy.log",
    )
    reports: list[str] = []
    service.start()
    try:
        wait_until_healthy([service], timeout=30)
        supervisor = Supervisor(
            [service], policy=RestartPolicy(first_delay=0.2), report=reports.append
        )
        assert service.process is not None
        first_pid = service.process.pid
        os.kill(first_pid, signal.SIGKILL)  # the leader only: its grandchild lives on

        deadline = time.monotonic() + 30
        while "toy is back up." not in reports and time.monotonic() < deadline:
            supervisor.check()
            time.sleep(0.1)

        assert reports[0] == (
            f"toy exited with code -9 (SIGKILL): see {tmp_path / 'toy.log'}; "
            "restarting it in 0.2 s."
        )
        assert reports[-1] == "toy is back up."
        assert service.process.pid != first_pid and service.exited() is None
        assert service.healthy()
        first_grandchild = int(grandchildren.read_text().split()[0])
        deadline = time.monotonic() + 5
        while alive(first_grandchild) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(first_grandchild)
        assert (tmp_path / "toy.log").read_text().count("--- toy starting at ") == 2
    finally:
        service.stop()
