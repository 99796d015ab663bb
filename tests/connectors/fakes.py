"""Fakes shared by the gateway tests: a Rasa client double and a scripted action server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from connectors.errors import RasaUnavailable
from connectors.messages import IncomingMessage, OutgoingMessage
from connectors.settings import GatewaySettings

SETTINGS = GatewaySettings(
    rasa_url="http://rasa.test:5005",
    action_server_url="http://actions.test:5055",
    gateway_db=":memory:",
)


class FakeRasa:
    """Stands in for RasaClient: records what it was sent and answers with canned replies."""

    def __init__(self, replies: list[OutgoingMessage] | None = None) -> None:
        self.replies = replies or [OutgoingMessage(text="hello")]
        self.received: list[IncomingMessage] = []
        self.up = True
        # Rasa's tracker API, as the handoff queue uses it.
        self.slot_values: dict[str, Any] = {}
        self.appended: list[tuple[str, list[dict[str, Any]]]] = []

    async def send(self, message: IncomingMessage) -> list[OutgoingMessage]:
        if not self.up:
            raise RasaUnavailable("Rasa is unreachable: ConnectError()", url="http://rasa.test")
        self.received.append(message)
        return self.replies

    async def healthy(self) -> bool:
        return self.up

    async def slots(self, conversation_id: str) -> dict[str, Any]:
        if not self.up:
            raise RasaUnavailable("Rasa is unreachable: ConnectError()", url="http://rasa.test")
        return dict(self.slot_values)

    async def append_events(self, conversation_id: str, events: list[dict[str, Any]]) -> None:
        if not self.up:
            raise RasaUnavailable("Rasa is unreachable: ConnectError()", url="http://rasa.test")
        self.appended.append((conversation_id, events))


def actions_transport(status: int = 200) -> httpx.MockTransport:
    """An action server answering GET /health with ``status``; 0 means it refuses connections."""

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url == "http://actions.test:5055/health"
        if status == 0:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(status, json={"status": "ok"})

    return httpx.MockTransport(handle)


MakeClient = Callable[..., Awaitable[httpx.AsyncClient]]


class SlowRasa(FakeRasa):
    """A FakeRasa that takes ``delay`` seconds per turn, like a busy Rasa server."""

    def __init__(self, delay: float, replies: list[OutgoingMessage] | None = None) -> None:
        super().__init__(replies)
        self.delay = delay

    async def send(self, message: IncomingMessage) -> list[OutgoingMessage]:
        import anyio

        await anyio.sleep(self.delay)
        return await super().send(message)
