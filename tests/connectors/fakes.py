"""Fakes shared by the gateway tests: a Rasa client double, a scripted action server and a
raw ASGI reader of the agent console's event stream."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.types import Message

from connectors.agents.auth import SESSION_COOKIE
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


def tiny_png() -> bytes:
    """A valid 1 x 1 white PNG, standing in for a chart the action server drew."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1 x 1, 8-bit RGB
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))  # fmt: skip


def chart_reply(
    title: str = "WID-1001: sales and stock",
    alt: str = "Sales of about 5 a day; runs out around 12 November.",
    png: bytes | None = None,
    text: str | None = None,
) -> OutgoingMessage:
    """A reply carrying a chart, as Rasa passes on the action server's custom payload."""
    encoded = base64.b64encode(tiny_png() if png is None else png).decode("ascii")
    return OutgoingMessage(text=text, custom={"chart": {"title": title, "alt": alt,
                                                        "png": encoded}})  # fmt: skip


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


@dataclass
class EventStream:
    """A server-sent-event response read chunk by chunk straight from the ASGI app, as the
    server runs it (an HTTP client would wait for the end of a response that never ends)."""

    status: int
    chunks: asyncio.Queue[bytes]
    disconnect: asyncio.Event
    task: asyncio.Task[None]
    buffer: str = ""

    async def next(self, timeout: float = 5.0) -> tuple[str, Any]:
        """The next event (name, data); heartbeat comments are skipped.

        Raises:
            EOFError: the server ended the stream.
            TimeoutError: no event came within ``timeout`` seconds.
        """
        while True:
            if "\n\n" in self.buffer:
                block, self.buffer = self.buffer.split("\n\n", 1)
                if block.startswith(":"):
                    continue
                fields = dict(line.split(": ", 1) for line in block.split("\n"))
                return fields["event"], json.loads(fields["data"])
            chunk = await asyncio.wait_for(self.chunks.get(), timeout)
            if chunk == b"":
                raise EOFError("the stream ended")
            self.buffer += chunk.decode()

    async def close(self) -> None:
        """Disconnect, as a browser closing the page does, and wait for the app to finish."""
        self.disconnect.set()
        await asyncio.wait_for(self.task, 5)


async def open_event_stream(
    app: Starlette, token: str, *, path: str = "/agent/api/events"
) -> EventStream:
    """GET ``path`` on ``app`` with the agent session cookie ``token``, once the response
    has started (its status is known).

    Example:
        >>> stream = await open_event_stream(console_app, token)
        >>> await stream.next()
        ('snapshot', {'handoffs': []})
    """
    chunks: asyncio.Queue[bytes] = asyncio.Queue()
    disconnect = asyncio.Event()
    started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 5000), "server": ("gw.test", 80),
        "headers": [(b"host", b"gw.test"), (b"cookie", f"{SESSION_COOKIE}={token}".encode())],
    }  # fmt: skip

    async def receive() -> Message:
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            started.set_result(message["status"])
        elif message["type"] == "http.response.body":
            chunks.put_nowait(message.get("body", b""))
            if not message.get("more_body"):
                chunks.put_nowait(b"")

    task = asyncio.create_task(app(scope, receive, send))
    return EventStream(await asyncio.wait_for(started, 5), chunks, disconnect, task)
