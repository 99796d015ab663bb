"""Real Rasa and action server as the launcher starts them: nothing answers without its token."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot import paths
from bot.processes import Service, build_services, stop_all, wait_until_healthy
from bot.secrets import shared_secrets
from bot.settings import Ports

pytestmark = pytest.mark.integration

WEBHOOK = "/webhooks/gateway/webhook"


@dataclass
class Stack:
    rasa: str
    token: str
    services: list[Service]

    def say(
        self, text: str, *, headers: dict[str, str], metadata: dict | None = None
    ) -> httpx.Response:
        body = {"sender": "auth-test", "message": text, "metadata": metadata or {}}
        return httpx.post(self.rasa + WEBHOOK, json=body, headers=headers, timeout=120)

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not paths.MODEL_FILE.exists():
        pytest.fail("no trained model: run `python -m bot train` (make test does)")
    work: Path = tmp_path_factory.mktemp("rasa-auth")
    ports = Ports.free()
    secrets = shared_secrets(work / "secrets.json", environ={})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RASA_TRACKER_DB", str(work / "tracker.db"))
        patch.setenv("GENERATOR_BACKEND", "off")
        services = build_services(ports, logs_dir=work / "logs", secrets=secrets, generator=False)[
            :2
        ]
    try:
        for service in services:
            service.start()
        try:
            wait_until_healthy(services, timeout=300)
        except Exception:
            for service in services:
                print(f"--- {service.name} log ---")
                print(service.log_file.read_text(errors="replace")[-4000:])
            raise
        yield Stack(ports.rasa_url, secrets["RASA_TOKEN"], services)
    finally:
        stop_all(services)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-the-token"}, {"Authorization": "Basic abc"}],
    ids=["none", "wrong", "other-scheme"],
)
def test_the_gateway_channel_refuses_a_message_without_the_token(
    stack: Stack, headers: dict[str, str]
) -> None:
    response = stack.say("hello", headers=headers)

    assert response.status_code == 401
    assert response.json() == {"error": "missing or wrong bearer token"}


def test_with_the_token_it_answers_and_keeps_the_metadata(stack: Stack) -> None:
    response = stack.say("hello", headers=stack.bearer, metadata={"channel": "web", "group": False})

    assert response.status_code == 200, response.text
    assert response.json() and all(r["recipient_id"] == "auth-test" for r in response.json())
    tracker = httpx.get(
        stack.rasa + "/conversations/auth-test/tracker", params={"token": stack.token}, timeout=30
    ).json()
    user = [event for event in tracker["events"] if event["event"] == "user"]
    # Rasa adds its own keys (model_id, assistant_id) beside ours.
    assert {k: user[-1]["metadata"].get(k) for k in ("channel", "group")} == {
        "channel": "web",
        "group": False,
    }


def test_rasa_calls_the_action_server_with_its_token(stack: Stack) -> None:
    response = stack.say("is WID-1001 in stock?", headers=stack.bearer)

    assert response.status_code == 200, response.text
    assert "WID-1001" in " ".join(reply.get("text") or "" for reply in response.json())
    actions_log = stack.services[0].log_file.read_text(errors="replace")
    assert "refused" not in actions_log


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("not json", "the body must be a JSON object"),
        ('["a", "list"]', "the body must be a JSON object"),
        ('{"message": "hi"}', "`sender` must be a non-empty string"),
        ('{"sender": "x", "message": 5}', "`message` must be a string"),
        ('{"sender": "x", "message": "hi", "metadata": []}', "`metadata` must be an object"),
    ],
    ids=["not-json", "list", "no-sender", "message-not-text", "metadata-not-object"],
)
def test_a_malformed_message_with_the_token_gets_400_not_a_crash(
    stack: Stack, body: str, error: str
) -> None:
    response = httpx.post(
        stack.rasa + WEBHOOK,
        content=body,
        headers={**stack.bearer, "Content-Type": "application/json"},
        timeout=30,
    )

    assert response.status_code == 400
    assert response.json() == {"error": error}


def test_rasa_exposes_no_unauthenticated_channel(stack: Stack) -> None:
    response = httpx.post(
        stack.rasa + "/webhooks/rest/webhook", json={"sender": "x", "message": "hi"}, timeout=30
    )

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/conversations/auth-test/tracker"),
        ("POST", "/conversations/auth-test/tracker/events"),
        ("POST", "/model/parse"),
        ("GET", "/status"),
    ],
    ids=["tracker", "events", "parse", "status"],
)
def test_the_http_api_refuses_without_the_token(stack: Stack, method: str, path: str) -> None:
    without = httpx.request(method, stack.rasa + path, json={"text": "hi"}, timeout=30)
    wrong = httpx.request(
        method, stack.rasa + path, params={"token": "guess"}, json={"text": "hi"}, timeout=30
    )

    assert without.status_code == 401
    assert wrong.status_code == 401


def test_the_token_is_not_on_rasa_s_command_line(stack: Stack) -> None:
    process = stack.services[1].process
    assert process is not None

    cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()

    assert b"bot.rasa_server" in cmdline
    assert stack.token.encode() not in cmdline
