"""`python -m bot run` (what `make run` calls): starts everything on loopback, answers, brings
a killed process back, stops on Ctrl-C."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from bot import paths
from bot.settings import free_port

pytestmark = pytest.mark.e2e


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def listening_addresses(port: int) -> set[str]:
    """Local addresses listening on ``port``, as /proc/net/tcp{,6} write them."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] == "0A" and int(port_hex, 16) == port:
                found.add(address)
    return found


def children(parent: int) -> dict[int, bytes]:
    """The command lines of ``parent``'s child processes."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                found[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue  # the process ended while being read
    return found


class Output:
    """The launcher's output, read on a thread so the test can wait with a deadline."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        stdout = process.stdout

        def read() -> None:
            for line in stdout:
                self._queue.put(line)
            self._queue.put(None)

        threading.Thread(target=read, daemon=True).start()

    def wait_for(self, prefix: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(prefix in line for line in self.lines):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"no {prefix!r} within {timeout:.0f} s:\n{self.text}")
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                pytest.fail(f"the launcher ended before {prefix!r}:\n{self.text}")
            self.lines.append(line)

    def rest(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
        return self.text

    @property
    def text(self) -> str:
        return "".join(self.lines)


def ask(port: int, text: str) -> list[dict]:
    reply = httpx.post(
        f"http://127.0.0.1:{port}/api/messages",
        json={"sender_id": "launcher", "text": text},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["messages"]


def test_run_answers_restarts_a_killed_process_and_ctrl_c_stops_every_process(
    tmp_path: Path,
) -> None:
    ports = {name: free_port() for name in ("PORT", "RASA_PORT", "ACTIONS_PORT")}
    env = dict(os.environ, RASA_TRACKER_DB=str(tmp_path / "tracker.db"), GENERATOR_BACKEND="off")
    env.pop("HOST", None)
    env.update({name: str(port) for name, port in ports.items()})
    launcher = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=paths.ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(launcher)
    try:
        output.wait_for("Press Ctrl-C", timeout=300)
        assert "✓ Rasa model: up to date" in output.text  # nothing changed: no training
        assert f"http://localhost:{ports['PORT']}/" in output.text
        assert ask(ports["PORT"], "hello")
        # Every process on loopback only (127.0.0.1 in /proc's little-endian hex).
        assert {name: listening_addresses(port) for name, port in ports.items()} == {
            name: {"0100007F"} for name in ports
        }
        commands = children(launcher.pid)
        secrets = json.loads(paths.SECRETS_FILE.read_text()).values()
        assert not any(
            token.encode() in cmdline for cmdline in commands.values() for token in secrets
        ), "a shared secret is on a command line"

        [actions] = [pid for pid, cmdline in commands.items() if b"actions.server" in cmdline]
        os.killpg(actions, signal.SIGKILL)
        output.wait_for("actions is back up.", timeout=120)
        assert "actions exited with code -9 (SIGKILL)" in output.text
        assert "actions.log; restarting it in 1 s." in output.text
        stock = " ".join(m.get("text") or "" for m in ask(ports["PORT"], "is WID-1001 in stock?"))
        assert "WID-1001" in stock
        assert launcher.poll() is None
    finally:
        launcher.send_signal(signal.SIGINT)
        try:
            launcher.wait(timeout=60)
        finally:
            text = output.rest(timeout=5)
            assert launcher.stdout is not None
            launcher.stdout.close()
    assert launcher.returncode == 0, text
    assert "Stopped." in text
    assert not any(port_open(port) for port in ports.values())
