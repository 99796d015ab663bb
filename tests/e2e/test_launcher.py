"""`python -m bot run` (what `make run` calls): starts everything, answers, stops on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
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


def test_run_answers_then_ctrl_c_stops_every_process(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("PORT", "RASA_PORT", "ACTIONS_PORT")}
    env = dict(os.environ, RASA_TRACKER_DB=str(tmp_path / "tracker.db"))
    env.update({name: str(port) for name, port in ports.items()})
    launcher = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=paths.ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 300
        assert launcher.stdout is not None
        for line in launcher.stdout:
            output.append(line)
            if line.startswith("Press Ctrl-C") or time.monotonic() > deadline:
                break
        assert any(line.startswith("Ready in") for line in output), "".join(output)
        assert "Rasa model is up to date" in "".join(output)  # nothing changed: no training
        assert f"http://localhost:{ports['PORT']}/" in "".join(output)
        reply = httpx.post(
            f"http://127.0.0.1:{ports['PORT']}/api/messages",
            json={"sender_id": "launcher", "text": "hello"},
            timeout=60,
        )
        assert reply.status_code == 200 and reply.json()["messages"]
    finally:
        launcher.send_signal(signal.SIGINT)
        rest, _ = launcher.communicate(timeout=60)
    assert launcher.returncode == 0, "".join(output) + rest
    assert "Stopped." in rest
    assert not any(port_open(port) for port in ports.values())
