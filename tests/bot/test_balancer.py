"""The HAProxy configuration for replicas: every replica checked, one frontend per service on
its usual port, loopback-only statistics; a clear error when HAProxy is missing; REPLICAS=2
builds two Rasa servers and two action servers behind one balancer."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import balancer as balancer_module
from bot.balancer import Backend, Balancer, BalancerMissing, haproxy_command
from bot.processes import build_services
from bot.settings import Ports

SECRETS = {name: f"secret-of-{name.lower()}" for name in (
    "RASA_TOKEN", "ACTION_SERVER_TOKEN", "GATEWAY_INTERNAL_TOKEN", "GENERATOR_TOKEN",
    "VERIFICATION_SECRET", "WEB_SESSION_SECRET",
)}  # fmt: skip


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


def test_a_missing_haproxy_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(balancer_module, "HAPROXY", "/nonexistent/haproxy")
    monkeypatch.setattr(balancer_module.shutil, "which", lambda name: None)

    with pytest.raises(BalancerMissing, match="make balancer"):
        haproxy_command(Path("haproxy.cfg"))


def test_two_replicas_build_two_of_rasa_and_actions_behind_one_balancer(tmp_path: Path) -> None:
    ports = Ports.free()
    services = build_services(
        ports, logs_dir=tmp_path, secrets=SECRETS, generator=False, replicas=2
    )

    names = [s.name for s in services]
    assert names == ["actions-1", "actions-2", "rasa-1", "rasa-2", "balancer", "gateway"]
    config = (tmp_path / "haproxy.cfg").read_text()
    assert f"bind 127.0.0.1:{ports.rasa}" in config and f"bind 127.0.0.1:{ports.actions}" in config
    for service in services[:4]:
        port = service.command[service.command.index("--port") + 1]
        assert f"127.0.0.1:{port} check" in config
        assert int(port) not in (ports.rasa, ports.actions)
    # The gateway and Rasa still talk to the usual ports: the balancer's.
    gateway = services[-1]
    assert gateway.env["RASA_URL"] == ports.rasa_url
    assert services[2].env["ACTION_SERVER_URL"] == ports.action_server_url
