"""HAProxy (Debian's haproxy) in front of several replicas of the gateway, the Rasa server and
the action server on one machine.

Each frontend listens where a single process would (PORT on HOST for the gateway, RASA_PORT,
ACTIONS_PORT), so clients, the widget and the processes themselves see one address. Rasa and
the action server: any request may go to any replica; each backend balances by fewest open
requests, checks its replicas (Rasa: ``GET /``, the action server: ``GET /health``) every
second, takes a replica out after two failed checks (refused, or no answer within 5 s: a
replica busy with turns answers late and stays in) and sends a request whose connection
failed to another replica. A request already inside a replica that dies fails with a 502/503,
which the gateway turns into a clear "temporarily unavailable" reply. Conversations stay
consistent across replicas through Rasa's lock store on Redis and tracker store on PostgreSQL
(PROFILE=production).

The gateway (`Gateway`) differs in three ways: a Socket.IO session lives in the replica that
opened it, so ``/socket.io/`` requests stick to it (a cookie HAProxy adds, else the client's
address); the client's address goes to the replica in ``X-Forwarded-For``, which uvicorn
believes only from 127.0.0.1, the balancer; and its ``/healthz`` takes a replica out only when
the replica does not answer, not when it reports Rasa or the ERP down (every replica would).

Example:
    >>> balancer = Balancer(health_port=free_port(), backends=[
    ...     Backend("rasa", "127.0.0.1", 5005, "/", [5101, 5102]),
    ...     Gateway("127.0.0.1", 8080, [8101, 8102])])
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
# The gateway's /healthz waits up to 2 s for each thing it checks (connectors/gateway.py).
GATEWAY_CHECK_TIMEOUT_S = 3
# A Rasa replica busy with turns answers its check late (its event loop runs the model): on
# 2 cores under 20 users, over a second. Late is not dead: a replica that died refuses the
# connection, which fails the check at once. Taking the busy one out would leave the others
# more to do and, with one replica left, the whole service down.
BACKEND_CHECK_TIMEOUT_S = 5
# An open WebSocket is idle between Engine.IO pings (every 25 s); an hour leaves room.
WEBSOCKET_IDLE_S = 3600
# Names the replica that opened a Socket.IO session; HAProxy takes it out before the gateway.
STICKY_COOKIE = "erp_gateway"
SOCKETIO_PATH = "/socket.io/"


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

    def sections(self) -> list[str]:
        """Its frontend and backend, haproxy.cfg lines."""
        return [
            f"frontend {self.name}",
            f"    bind {_address(self.host, self.port)}",
            f"    default_backend {self.name}_replicas",
            "",
            f"backend {self.name}_replicas",
            "    balance leastconn",
            f"    option httpchk GET {self.check_path}",
            "    http-check expect status 200",
            f"    timeout check {BACKEND_CHECK_TIMEOUT_S}s",
            "    default-server inter 1s fall 2 rise 1",
            *(
                f"    server {self.name}-{index} 127.0.0.1:{port} check"
                for index, port in enumerate(self.replica_ports, start=1)
            ),
        ]


@dataclass(frozen=True)
class Gateway:
    """The gateway's replicas behind its public address (``host``:``port``).

    HTTP (REST, webhooks, the agent console, /metrics) goes to the replica with the fewest open
    requests. ``/socket.io/`` goes to a backend of the same replicas whose choice sticks: the
    first response sets the ``erp_gateway`` cookie naming the replica, later requests with it
    go there (long-polling needs every request of a session on the replica that opened it);
    a client that sends no cookie back (another site's page, a script) is placed by a hash of
    its address, the same replica while none goes or comes. A WebSocket stays on its
    connection, kept open through ``timeout tunnel``.
    """

    host: str
    port: int
    replica_ports: list[int]
    name: str = "gateway"

    def sections(self) -> list[str]:
        """Its frontend and two backends, haproxy.cfg lines."""
        servers = [
            (f"{self.name}-{index}", port) for index, port in enumerate(self.replica_ports, start=1)
        ]
        return [
            f"frontend {self.name}",
            f"    bind {_address(self.host, self.port)}",
            # The client's address, appended to what the client claimed: uvicorn takes the
            # last address not sent by a trusted proxy, and trusts only 127.0.0.1 (here).
            "    option forwardfor",
            f"    use_backend {self.name}_socketio if {{ path_beg {SOCKETIO_PATH} }}",
            f"    default_backend {self.name}_replicas",
            "",
            f"backend {self.name}_replicas",
            "    balance leastconn",
            # /healthz answers 503 while Rasa, the actions or the ERP are down: the same on
            # every replica, so not a reason to take one out (the replica's own "temporarily
            # unavailable" reply and the console beat HAProxy's 503). Out when it does not
            # answer, or answers anything else.
            "    option httpchk GET /healthz",
            "    http-check expect rstatus ^(200|503)$",
            f"    timeout check {GATEWAY_CHECK_TIMEOUT_S}s",
            "    default-server inter 2s fall 2 rise 1",
            *(f"    server {name} 127.0.0.1:{port} check" for name, port in servers),
            "",
            f"backend {self.name}_socketio",
            "    balance source",
            "    hash-type consistent",
            f"    cookie {STICKY_COOKIE} insert indirect nocache httponly",
            f"    timeout tunnel {WEBSOCKET_IDLE_S}s",
            # The same processes: their state is the one the other backend's checks find.
            *(
                f"    server {name} 127.0.0.1:{port} track {self.name}_replicas/{name} "
                f"cookie {name}"
                for name, port in servers
            ),
        ]


@dataclass(frozen=True)
class Balancer:
    """The HAProxy configuration for ``backends``; ``health_port`` answers /healthz."""

    health_port: int
    backends: list[Backend | Gateway]

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
            lines += ["", *backend.sections()]
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


def _address(host: str, port: int) -> str:
    """``host:port`` as HAProxy's ``bind`` reads it (an IPv6 host bracketed)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


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
