"""deploy/rabbitmqctl_http.py: bot/provision.py's RabbitMQ step over the management API.

A fake management API on 127.0.0.1 records what it is asked; bot/provision.py runs the shim
as it runs `rabbitmqctl` (RABBITMQCTL), unchanged."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bot.profile import Production
from bot.provision import RABBITMQ_EXCHANGE, Provisioned, ProvisionError, rabbitmq
from tests.deploy.conftest import DEPLOY

SHIM = DEPLOY / "rabbitmqctl_http.py"
ADMIN = ("admin", "admin-password")


@dataclass
class FakeManagement:
    """Users and vhosts as RabbitMQ's management API keeps them, and every change asked."""

    vhosts: list[str] = field(default_factory=lambda: ["/"])
    users: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"admin": {"password": ADMIN[1], "tags": ["administrator"]}}
    )
    permissions: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    changes: list[tuple[str, str]] = field(default_factory=list)
    refuse: bool = False


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeManagement]:
    state = FakeManagement()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _authorised(self) -> bool:
            expected = "Basic " + base64.b64encode(":".join(ADMIN).encode()).decode()
            if state.refuse or self.headers.get("Authorization") != expected:
                self._reply(401, {"error": "not_authorised"})
                return False
            return True

        def _reply(self, status: int, body: object = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if not self._authorised():
                return
            if self.path == "/api/vhosts":
                self._reply(200, [{"name": name} for name in state.vhosts])
            elif self.path == "/api/users":
                self._reply(200, [{"name": n, "tags": u["tags"]} for n, u in state.users.items()])
            else:
                self._reply(404, {"error": "not_found"})

        def do_PUT(self) -> None:  # noqa: N802
            if not self._authorised():
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
            from urllib.parse import unquote

            parts = [unquote(part) for part in self.path.split("/")[2:]]
            state.changes.append((self.path, json.dumps(body, sort_keys=True)))
            if parts[0] == "vhosts":
                state.vhosts.append(parts[1])
            elif parts[0] == "users":
                state.users[parts[1]] = {"password": body["password"], "tags": []}
            elif parts[0] == "permissions":
                state.permissions[(parts[1], parts[2])] = body
            self._reply(201)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("RABBITMQ_MANAGEMENT_URL", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("RABBITMQ_ADMIN_USER", ADMIN[0])
    monkeypatch.setenv("RABBITMQ_ADMIN_PASSWORD", ADMIN[1])
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def settings() -> Production:
    return Production(rabbitmqctl=str(SHIM), name="acme_bot")


def test_bot_provision_creates_the_vhost_and_accounts_through_it(api: FakeManagement) -> None:
    report = Provisioned()

    rabbitmq(settings(), "rasa-password", "reader-password", report)

    assert "acme_bot" in api.vhosts
    assert api.users["acme_bot_rasa"] == {"password": "rasa-password", "tags": []}
    assert api.users["acme_bot_events_reader"] == {"password": "reader-password", "tags": []}
    both = f"^({RABBITMQ_EXCHANGE}|acme_bot_events)$"
    assert api.permissions[("acme_bot", "acme_bot_rasa")] == {
        "configure": both,
        "write": both,
        "read": f"^{RABBITMQ_EXCHANGE}$",
    }
    assert api.permissions[("acme_bot", "acme_bot_events_reader")] == {
        "configure": "^$",
        "write": "^$",
        "read": "^acme_bot_events$",
    }
    assert report.done == [
        "RabbitMQ: created vhost acme_bot",
        "RabbitMQ: vhost acme_bot, acme_bot_rasa publishes to acme_bot_events, "
        "acme_bot_events_reader reads it",
    ]


def test_a_second_run_changes_passwords_and_creates_nothing_again(api: FakeManagement) -> None:
    rabbitmq(settings(), "first", "first-reader", Provisioned())
    api.changes.clear()
    report = Provisioned()

    rabbitmq(settings(), "rotated", "rotated-reader", report)

    assert not any(path.startswith("/api/vhosts/") for path, _ in api.changes)
    assert api.users["acme_bot_rasa"]["password"] == "rotated"
    assert not any("created vhost" in line for line in report.done)


def test_a_refused_administrator_names_rabbitmq(api: FakeManagement) -> None:
    api.refuse = True

    with pytest.raises(ProvisionError, match=r"RabbitMQ: `rabbitmqctl list_vhosts` failed: .*401"):
        rabbitmq(settings(), "p", "r", Provisioned())


def test_the_root_vhost_and_odd_names_stay_one_path_segment(api: FakeManagement) -> None:
    from deploy.rabbitmqctl_http import Management, run

    client = Management(f"http://127.0.0.1:{_port()}", *ADMIN)
    run(client, ["set_permissions", "-p", "/", "a/b", ".*", ".*", ".*"], lambda: "")

    assert api.changes[-1][0] == "/api/permissions/%2F/a%2Fb"


def _port() -> str:
    import os

    return os.environ["RABBITMQ_MANAGEMENT_URL"].rsplit(":", 1)[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["delete_user", "x"], "unsupported command: delete_user x"),
        ([], "unsupported command: (none)"),
        (["add_user", "x"], "add_user needs the password on standard input"),
    ],
    ids=["unknown", "none", "no-password"],
)
def test_what_it_cannot_do_is_a_usage_error(args: list[str], message: str) -> None:
    from deploy.rabbitmqctl_http import Management, run

    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(Management("http://127.0.0.1:9", *ADMIN), args, lambda: "")


def test_settings_are_checked_before_any_request() -> None:
    from deploy.rabbitmqctl_http import ApiError, Management

    with pytest.raises(ApiError, match="must be an http"):
        Management("rabbitmq:15672", *ADMIN)
    with pytest.raises(ApiError, match="RABBITMQ_ADMIN_PASSWORD"):
        Management("http://rabbitmq:15672", "admin", "")
