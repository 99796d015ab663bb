"""`python -m actions.server` started for real: loopback only, only Rasa's token runs actions."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot import paths
from bot.settings import free_port

TOKEN = "action-server-test-token"

# What an attacker who reaches the port would send: a tracker that claims a verified customer.
FORGED = {
    "next_action": "action_list_unpaid_invoices",
    "sender_id": "attacker",
    "version": "3.6.21",
    "tracker": {
        "sender_id": "attacker",
        "slots": {"verified_customer_id": 1, "email": "x@example.com", "postcode": "AB1 2CD"},
        "latest_message": {"text": "my unpaid invoices", "intent": {"name": "ask_unpaid"}},
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": "action_listen",
    },
    "domain": {"slots": {}, "responses": {}, "forms": {}},
}


@dataclass
class Server:
    url: str
    port: int
    process: subprocess.Popen[bytes]


def start(env: dict[str, str], port: int, log: Path, host: str = "127.0.0.1") -> Server:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "actions.server", "--port", str(port)],
            cwd=paths.ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"action server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return Server(url, port, process)
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    pytest.fail(f"action server not healthy within 60 s:\n{log.read_text()}")


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def server_env(erp_url: str, state: Path, **extra: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("ACTION_SERVER_TOKEN", "ACTION_SERVER_HOST")
    }
    env.update(
        ERP_DATABASE_URL=erp_url,
        GENERATOR_BACKEND="off",
        VERIFICATION_SECRET="v" * 32,
        ACTIONS_STATE_DB=str(state / "actions-state.db"),
        **extra,
    )
    return env


@pytest.fixture(scope="module")
def server(erp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("action-server")
    running = start(server_env(erp_url, work, ACTION_SERVER_TOKEN=TOKEN), free_port(), work / "log")
    yield running
    stop(running)


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a socket listening on ``port`` (Linux /proc/net/tcp{,6})."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_it_listens_on_loopback_only(server: Server) -> None:
    # 127.0.0.1 as /proc/net/tcp writes it (little-endian hex); nothing on 0.0.0.0 or ::.
    assert listening_addresses(server.port) == {"0100007F"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer ünïcode".encode()},
    ],
    ids=["none", "wrong", "other-scheme", "no-scheme", "longer", "non-ascii"],
)
def test_a_forged_tracker_without_the_token_gets_401_and_no_data(
    server: Server, headers: dict[str, str | bytes]
) -> None:
    response = httpx.post(server.url + "/webhook", json=FORGED, headers=headers, timeout=30)

    assert response.status_code == 401
    assert response.json() == {"error": "missing or wrong bearer token"}
    assert response.headers["www-authenticate"] == "Bearer"


def test_the_action_list_needs_the_token_too(server: Server) -> None:
    assert httpx.get(server.url + "/actions", timeout=10).status_code == 401
    listed = httpx.get(
        server.url + "/actions", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert listed.status_code == 200
    assert {"name": "action_list_unpaid_invoices"} in listed.json()


def test_health_answers_without_the_token(server: Server) -> None:
    response = httpx.get(server.url + "/health", timeout=10)

    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_rasa_s_token_runs_the_action(server: Server) -> None:
    response = httpx.post(
        server.url + "/webhook",
        json=FORGED,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=60,
    )

    assert response.status_code == 200, response.text
    assert isinstance(response.json()["events"], list)


def test_without_a_token_it_refuses_to_start(erp_url: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "actions.server", "--port", str(free_port())],
        cwd=paths.ROOT,
        env=server_env(erp_url, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert "ACTION_SERVER_TOKEN is not set" in result.stderr
    assert "does not start without one" in result.stderr


@pytest.mark.parametrize(
    ("url", "code", "message"),
    [
        ("mysql://acts:pw@db/acts", 2, "ACTIONS_STATE_DATABASE_URL must start with postgresql://"),
        ("postgresql://acts@127.0.0.1:9/acts", 1, "state database at 127.0.0.1:9/acts"),
    ],
    ids=["bad-url", "unreachable"],
)
def test_a_state_database_it_cannot_use_stops_it_at_start(
    erp_url: str, tmp_path: Path, url: str, code: int, message: str
) -> None:
    env = server_env(erp_url, tmp_path, ACTION_SERVER_TOKEN=TOKEN, ACTIONS_STATE_DATABASE_URL=url)
    result = subprocess.run(
        [sys.executable, "-m", "actions.server", "--port", str(free_port())],
        cwd=paths.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == code
    assert "Cannot start: " in result.stderr and message in result.stderr
    assert "Traceback" not in result.stderr


def test_action_server_host_moves_it_to_another_address(erp_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = server_env(erp_url, tmp_path, ACTION_SERVER_TOKEN=TOKEN, ACTION_SERVER_HOST="127.0.0.2")
    server = start(env, port, tmp_path / "log", host="127.0.0.2")
    try:
        assert listening_addresses(port) == {"0200007F"}
    finally:
        stop(server)
