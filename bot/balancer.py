"""HAProxy (Debian's haproxy) in front of several replicas of the Rasa server and the action
server on one machine, so that any request may go to any replica.

Each frontend listens where a single process would (RASA_PORT, ACTIONS_PORT), so the gateway
and Rasa need no change; each backend balances to the replicas by fewest open requests, checks
them (Rasa: ``GET /``, the action server: ``GET /health``) every second, takes a replica out
after two failed checks and sends a request whose connection failed to another replica. A
request already inside a replica that dies fails with a 502/503, which the gateway turns into a
clear "temporarily unavailable" reply. Conversations stay consistent across replicas through
Rasa's lock store on Redis and tracker store on PostgreSQL (PROFILE=production).

Example:
    >>> balancer = Balancer(health_port=free_port(), backends=[
    ...     Backend("rasa", "127.0.0.1", 5005, "/", [5101, 5102])])
    >>> balancer.write(Path("var/balancer/haproxy.cfg"))
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

HAPROXY = "/usr/sbin/haproxy"
# Rasa answers slowly when the generator writes a long answer; a turn may take up to the
# gateway's RASA_TIMEOUT (30 s) plus the action's own time.
SERVER_TIMEOUT_S = 120


class BalancerMissing(RuntimeError):
    """HAProxy is not installed (`make balancer` installs it from Debian)."""


@dataclass(frozen=True)
class Backend:
    """One balanced service: where it is reached, how its replicas are checked, their ports."""

    name: str
    host: str
    port: int
    check_path: str
    replica_ports: list[int]


@dataclass(frozen=True)
class Balancer:
    """The HAProxy configuration for ``backends``; ``health_port`` answers /healthz."""

    health_port: int
    backends: list[Backend]

    def config(self) -> str:
        """haproxy.cfg text."""
        lines = [
            "global",
            "    maxconn 4096",
            "    log stdout format raw local0 warning",
            "",
            "defaults",
            "    mode http",
            "    log global",
            "    option dontlognull",
            "    timeout connect 2s",
            f"    timeout client {SERVER_TIMEOUT_S}s",
            f"    timeout server {SERVER_TIMEOUT_S}s",
            "    timeout http-request 10s",
            "    retries 2",
            "    option redispatch",
            "",
            # Loopback only: /healthz for the launcher, /stats (;csv) per replica for tests
            # and operators.
            "frontend health",
            f"    bind 127.0.0.1:{self.health_port}",
            "    monitor-uri /healthz",
            "    stats enable",
            "    stats uri /stats",
            "    stats refresh 5s",
        ]
        for backend in self.backends:
            lines += [
                "",
                f"frontend {backend.name}",
                f"    bind {backend.host}:{backend.port}",
                f"    default_backend {backend.name}_replicas",
                "",
                f"backend {backend.name}_replicas",
                "    balance leastconn",
                f"    option httpchk GET {backend.check_path}",
                "    http-check expect status 200",
                "    default-server inter 1s fall 2 rise 1",
            ]
            lines += [
                f"    server {backend.name}-{index} 127.0.0.1:{port} check"
                for index, port in enumerate(backend.replica_ports, start=1)
            ]
        return "\n".join(lines) + "\n"

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.config(), encoding="utf-8")
        return path

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.health_port}/healthz"

    @property
    def stats_url(self) -> str:
        """Per-replica counters as CSV (``;csv``): requests, state, failed checks."""
        return f"http://127.0.0.1:{self.health_port}/stats;csv"


def haproxy_command(config: Path) -> list[str]:
    """HAProxy in the foreground (-db: the launcher supervises it), checking ``config`` first.

    Raises:
        BalancerMissing: HAProxy is not installed.
    """
    binary = HAPROXY if Path(HAPROXY).exists() else shutil.which("haproxy")
    if binary is None:
        raise BalancerMissing(
            "REPLICAS > 1 needs HAProxy in front of the replicas: run `make balancer` "
            "(apt-get install haproxy)"
        )
    return [str(binary), "-db", "-f", str(config)]
