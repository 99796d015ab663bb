"""The HAProxy configuration for replicas: every replica checked, one frontend per service on
its usual port, loopback-only statistics; the gateway's Socket.IO sessions kept on one replica,
the client's address passed on, its health check; a clear error when HAProxy is missing;
REPLICAS=2 builds two gateways, Rasa servers and action servers behind one balancer, only the
first gateway polling Telegram."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from bot import balancer as balancer_module
from bot.balancer import Backend, Balancer, BalancerMissing, Gateway, haproxy_command
from bot.processes import build_services
from bot.settings import Ports, free_port

SECRETS = {name: f"secret-of-{name.lower()}" for name in (
    "RASA_TOKEN", "ACTION_SERVER_TOKEN", "GATEWAY_INTERNAL_TOKEN", "GENERATOR_TOKEN",
    "VERIFICATION_SECRET", "WEB_SESSION_SECRET",
)}  # fmt: skip


def section(config: str, header: str) -> list[str]:
    """The lines of one ``frontend``/``backend`` section, stripped, without its header."""
    found = config.split(f"\n{header}\n", 1)[1].split("\n\n", 1)[0]
    return [line.strip() for line in found.splitlines()]


def gateway_config(host: str = "127.0.0.1") -> str:
    return Balancer(health_port=9100, backends=[Gateway(host, 8080, [8101, 8102])]).config()


def test_each_service_gets_a_frontend_on_its_port_and_checked_replicas() -> None:
    config = Balancer(
        health_port=9100,
        backends=[
            Backend("rasa", "127.0.0.1", 5005, "/", [5101, 5102]),
            Backend("actions", "127.0.0.1", 5055, "/health", [5151, 5152]),
        ],
    ).config()

    assert "bind 127.0.0.1:5005" in config and "bind 127.0.0.1:5055" in config
    assert "server rasa-1 127.0.0.1:5101 check" in config
    assert "server rasa-2 127.0.0.1:5102 check" in config
    assert "server actions-2 127.0.0.1:5152 check" in config
    assert "option httpchk GET /health" in config and "option redispatch" in config
    assert "bind 127.0.0.1:9100" in config and "monitor-uri /healthz" in config
    assert "0.0.0.0" not in config


def test_the_gateway_is_one_address_whose_http_goes_to_the_least_busy_replica() -> None:
    frontend = section(gateway_config(), "frontend gateway")
    replicas = section(gateway_config(), "backend gateway_replicas")

    assert "bind 127.0.0.1:8080" in frontend
    assert frontend[-1] == "default_backend gateway_replicas"
    assert "balance leastconn" in replicas
    assert "server gateway-1 127.0.0.1:8101 check" in replicas
    assert "server gateway-2 127.0.0.1:8102 check" in replicas


def test_socketio_requests_stick_to_the_replica_that_opened_the_session() -> None:
    config = gateway_config()
    frontend = section(config, "frontend gateway")
    socketio = section(config, "backend gateway_socketio")

    assert "use_backend gateway_socketio if { path_beg /socket.io/ }" in frontend
    # The replica is named by a cookie HAProxy sets; without one, by the client's address.
    assert "cookie erp_gateway insert indirect nocache httponly" in socketio
    assert "server gateway-1 127.0.0.1:8101 track gateway_replicas/gateway-1 cookie gateway-1" in (
        socketio
    )
    assert "server gateway-2 127.0.0.1:8102 track gateway_replicas/gateway-2 cookie gateway-2" in (
        socketio
    )
    assert "balance source" in socketio
    # A WebSocket is idle between Engine.IO's pings (25 s): far longer than that.
    (seconds,) = [
        int(m[1]) for line in socketio if (m := re.fullmatch(r"timeout tunnel (\d+)s", line))
    ]
    assert seconds >= 600


def test_the_gateway_gets_the_client_s_address_from_the_balancer() -> None:
    assert "option forwardfor" in section(gateway_config(), "frontend gateway")


def test_a_replica_is_out_when_it_does_not_answer_not_when_rasa_is_down() -> None:
    """/healthz is 503 on every replica alike while Rasa, the actions or the ERP are down."""
    replicas = section(gateway_config(), "backend gateway_replicas")

    assert "option httpchk GET /healthz" in replicas
    (expect,) = [line for line in replicas if line.startswith("http-check expect")]
    pattern = expect.removeprefix("http-check expect rstatus ")
    assert [code for code in ("200", "503", "500", "404") if re.search(pattern, code)] == [
        "200",
        "503",
    ]
    # Longer than /healthz waits for its slowest check (2 s).
    assert "timeout check 3s" in replicas


@pytest.mark.parametrize(
    ("host", "bind"),
    [("127.0.0.1", "127.0.0.1:8080"), ("0.0.0.0", "0.0.0.0:8080"), ("::", "[::]:8080")],
    ids=["loopback", "any-ipv4", "any-ipv6"],
)
def test_the_gateway_frontend_listens_on_host(host: str, bind: str) -> None:
    assert f"bind {bind}" in section(gateway_config(host), "frontend gateway")


def haproxy_or_skip(config: Path) -> list[str]:
    """The command running HAProxy on ``config``; the test skips without HAProxy, except in CI."""
    try:
        return haproxy_command(config)
    except BalancerMissing:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("HAProxy is not installed: `make balancer`")


def test_haproxy_accepts_the_configuration(tmp_path: Path) -> None:
    """HAProxy's own check (-c) of a configuration with every kind of backend."""
    command = haproxy_or_skip(tmp_path / "haproxy.cfg")
    Balancer(
        health_port=9100,
        backends=[
            Backend("rasa", "127.0.0.1", 5005, "/", [5101, 5102]),
            Gateway("::", 8080, [8101, 8102]),
        ],
    ).write(tmp_path / "haproxy.cfg")

    done = subprocess.run(
        [command[0], "-c", "-f", str(tmp_path / "haproxy.cfg")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "ALERT" not in done.stdout + done.stderr
    assert "WARNING" not in done.stdout + done.stderr


def test_a_missing_haproxy_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(balancer_module, "HAPROXY", "/nonexistent/haproxy")
    monkeypatch.setattr(balancer_module.shutil, "which", lambda name: None)

    with pytest.raises(BalancerMissing, match="make balancer"):
        haproxy_command(Path("haproxy.cfg"))


def test_two_replicas_build_two_of_each_behind_one_balancer(tmp_path: Path) -> None:
    ports = Ports.free()
    services = build_services(
        ports, logs_dir=tmp_path, secrets=SECRETS, generator=False, replicas=2
    )

    names = [s.name for s in services]
    assert names == [
        "actions-1", "actions-2", "rasa-1", "rasa-2", "balancer", "gateway-1", "gateway-2",
    ]  # fmt: skip
    config = (tmp_path / "haproxy.cfg").read_text()
    assert f"bind 127.0.0.1:{ports.rasa}" in config and f"bind 127.0.0.1:{ports.actions}" in config
    assert f"bind 127.0.0.1:{ports.gateway}" in config
    for service in services[:4]:
        port = service.command[service.command.index("--port") + 1]
        assert f"127.0.0.1:{port} check" in config
        assert int(port) not in (ports.rasa, ports.actions)
    # Rasa, the action server and the gateways still talk to the usual ports: the balancer's.
    for gateway in services[-2:]:
        assert gateway.env["RASA_URL"] == ports.rasa_url
        assert gateway.log_file == tmp_path / f"{gateway.name}.log"
    assert services[2].env["ACTION_SERVER_URL"] == ports.action_server_url
    assert services[0].env["GATEWAY_STREAM_URL"] == f"{ports.gateway_url}/internal/stream"


def test_each_gateway_replica_listens_on_loopback_behind_the_public_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOST", "0.0.0.0")
    ports = Ports.free()

    services = build_services(
        ports, logs_dir=tmp_path, secrets=SECRETS, generator=False, replicas=2
    )

    config = (tmp_path / "haproxy.cfg").read_text()
    assert f"bind 0.0.0.0:{ports.gateway}" in section(config, "frontend gateway")
    replicas = section(config, "backend gateway_replicas")
    for gateway in services[-2:]:
        port = gateway.env["PORT"]
        # Only the balancer reaches a replica: X-Forwarded-For from 127.0.0.1 is its own.
        assert gateway.env["HOST"] == "127.0.0.1"
        assert int(port) != ports.gateway
        assert gateway.health_url == f"http://127.0.0.1:{port}/healthz"
        assert f"server {gateway.name} 127.0.0.1:{port} check" in replicas
    assert services[-1].env["PORT"] != services[-2].env["PORT"]


def test_only_the_first_gateway_polls_telegram_or_registers_its_webhook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEGRAM_MODE", "polling")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", "https://bot.example/telegram/webhook")

    services = build_services(
        Ports.free(), logs_dir=tmp_path, secrets=SECRETS, generator=False, replicas=3
    )

    gateways = {s.name: s.env for s in services if s.name.startswith("gateway")}
    assert gateways["gateway-1"]["TELEGRAM_MODE"] == "polling"
    assert gateways["gateway-1"]["TELEGRAM_WEBHOOK_URL"] == "https://bot.example/telegram/webhook"
    for name in ("gateway-2", "gateway-3"):
        assert gateways[name]["TELEGRAM_MODE"] == "webhook", name
        assert gateways[name]["TELEGRAM_WEBHOOK_URL"] == "", name


def test_one_gateway_keeps_the_public_port_and_its_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEGRAM_MODE", "polling")
    ports = Ports.free()

    services = build_services(ports, logs_dir=tmp_path, secrets=SECRETS, generator=False)

    (gateway,) = [s for s in services if s.name.startswith("gateway")]
    assert gateway.name == "gateway"
    assert gateway.env["PORT"] == str(ports.gateway)
    assert gateway.env["TELEGRAM_MODE"] == "polling"
    assert gateway.health_url == f"{ports.gateway_url}/healthz"
    assert not (tmp_path / "haproxy.cfg").exists()


class Replica:
    """A stand-in gateway replica on loopback: answers with its name and the X-Forwarded-For
    it was given; /healthz answers ``health`` (503: "Rasa is down", alike on every replica)."""

    def __init__(self, name: str, health: int, *, check_delay: float = 0.0) -> None:
        replica = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if self.path in ("/healthz", "/health"):
                    time.sleep(check_delay)  # a replica busy with turns answers late
                status = health if self.path in ("/healthz", "/health") else 200
                # Each proxy may add a line of its own: read as one list, as uvicorn does.
                forwarded = ", ".join(self.headers.get_all("X-Forwarded-For") or [])
                body = f"{replica.name}|{forwarded}".encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.name = name
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def balanced(tmp_path: Path) -> Iterator[tuple[str, list[Replica]]]:
    """HAProxy on a free port in front of two replicas whose /healthz says 503."""
    command = haproxy_or_skip(tmp_path / "haproxy.cfg")
    replicas = [Replica("one", 503), Replica("two", 503)]
    port = free_port()
    balancer = Balancer(
        health_port=free_port(),
        backends=[Gateway("127.0.0.1", port, [r.port for r in replicas])],
    )
    balancer.write(tmp_path / "haproxy.cfg")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while up(balancer) < 2:
            assert time.monotonic() < deadline, "the replicas never came up"
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", replicas
    finally:
        process.terminate()
        process.wait(timeout=10)
        for replica in replicas:
            replica.stop()


def up(balancer: Balancer, backend: str = "gateway_replicas") -> int:
    """Replicas HAProxy's ``backend`` counts as up."""
    return sum(1 for status in states(balancer, backend).values() if status == "UP")


def states(balancer: Balancer, backend: str) -> dict[str, str]:
    """Each server of ``backend`` and its state as HAProxy sees it (UP, DOWN, ...)."""
    try:
        stats = httpx.get(balancer.stats_url, timeout=2).text
    except httpx.HTTPError:
        return {}
    rows = csv.DictReader(io.StringIO(stats.lstrip("# ")))
    return {
        row["svname"]: row["status"]
        for row in rows
        if row["pxname"] == backend and row["svname"] not in ("FRONTEND", "BACKEND")
    }


@pytest.mark.integration
def test_a_busy_replica_that_answers_its_check_late_stays_in_a_dead_one_goes_out(
    tmp_path: Path,
) -> None:
    """A Rasa replica busy with turns answers its check in seconds: still in, or the last one
    left would take the whole service down with it; a replica that died is out in seconds."""
    command = haproxy_or_skip(tmp_path / "haproxy.cfg")
    busy, dead = Replica("busy", 200, check_delay=2.5), Replica("dead", 200)
    port = free_port()
    balancer = Balancer(
        health_port=free_port(),
        backends=[Backend("rasa", "127.0.0.1", port, "/health", [busy.port, dead.port])],
    )
    balancer.write(tmp_path / "haproxy.cfg")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while up(balancer, "rasa_replicas") < 2:
            assert time.monotonic() < deadline, states(balancer, "rasa_replicas")
            time.sleep(0.2)
        dead.stop()
        seen: list[dict[str, str]] = []
        deadline = time.monotonic() + 12  # a dozen checks of each, each 2.5 s late
        while time.monotonic() < deadline:
            seen.append(states(balancer, "rasa_replicas"))
            time.sleep(0.5)
        answers = {httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text.split("|")[0]
                   for _ in range(4)}  # fmt: skip
    finally:
        process.terminate()
        process.wait(timeout=10)
        busy.stop()
    assert all(state.get("rasa-1") == "UP" for state in seen), seen
    assert seen[-1].get("rasa-2", "").startswith("DOWN"), seen[-1]
    assert answers == {"busy"}


@pytest.mark.integration
def test_haproxy_keeps_a_socketio_session_on_its_replica_and_spreads_the_rest(
    balanced: tuple[str, list[Replica]],
) -> None:
    url, _ = balanced
    with httpx.Client(base_url=url, timeout=5) as client:
        # Both replicas serve while their /healthz says 503: a fault every replica shares.
        plain = {client.get("/api/whatever").text.split("|")[0] for _ in range(8)}
        assert plain == {"one", "two"}

        opened = client.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
        cookie = opened.cookies["erp_gateway"]
        first = opened.text.split("|")[0]
        later = {
            client.get("/socket.io/", params={"EIO": "4", "sid": "abc"}).text.split("|")[0]
            for _ in range(8)
        }
    assert later == {first}
    assert cookie == f"gateway-{1 if first == 'one' else 2}"
    # The cookie decides, whatever the client's address would choose.
    for name, replica in (("gateway-1", "one"), ("gateway-2", "two")):
        pinned = httpx.get(f"{url}/socket.io/", cookies={"erp_gateway": name}, timeout=5)
        assert pinned.text.split("|")[0] == replica


@pytest.mark.integration
def test_haproxy_passes_the_client_s_address_after_what_the_client_claimed(
    balanced: tuple[str, list[Replica]],
) -> None:
    url, _ = balanced

    answer = httpx.get(f"{url}/api/messages", headers={"X-Forwarded-For": "6.6.6.6"}, timeout=5)

    # uvicorn takes the last address not from a trusted proxy: the one HAProxy appended.
    assert answer.text.split("|")[1] == "6.6.6.6, 127.0.0.1"


@pytest.mark.integration
def test_a_replica_that_stops_answering_is_taken_out_with_its_sessions(
    balanced: tuple[str, list[Replica]],
) -> None:
    url, replicas = balanced
    with httpx.Client(base_url=url, timeout=5) as client:
        client.cookies.set("erp_gateway", "gateway-2")
        assert client.get("/socket.io/").text.split("|")[0] == "two"
        replicas[1].stop()

        deadline = time.monotonic() + 15
        answers: list[str] = []
        while time.monotonic() < deadline:
            try:
                answers.append(client.get("/socket.io/").text.split("|")[0])
            except httpx.HTTPError:
                answers.append("error")
            if answers[-3:] == ["one"] * 3:
                break
            time.sleep(0.5)
    assert answers[-3:] == ["one"] * 3, answers
