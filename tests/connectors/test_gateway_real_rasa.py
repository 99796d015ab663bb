"""The gateway end to end over real HTTP: a fake Rasa and action server served by uvicorn."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from connectors.gateway import create_app
from connectors.settings import GatewaySettings

REPLIES = [
    {
        "recipient_id": "u-1",
        "text": "Order SO-1001 ships tomorrow. Details: https://erp.example/o/SO-1001",
        "buttons": [{"title": "Track it", "payload": '/track_order{"order_id":"SO-1001"}'}],
    },
    {"recipient_id": "u-1", "image": "https://erp.example/map.png"},
]


class FakeRasaServer:
    """Rasa's gateway channel and root, plus the action server's /health, on one local port."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.app = Starlette(
            routes=[
                Route("/", self.root),
                Route("/webhooks/gateway/webhook", self.webhook, methods=["POST"]),
                Route("/health", self.health),
            ]
        )

    async def root(self, request: Request) -> PlainTextResponse:
        return PlainTextResponse("Hello from Rasa: 3.6.21")

    async def webhook(self, request: Request) -> JSONResponse:
        self.requests.append(json.loads(await request.body()))
        return JSONResponse(REPLIES)

    async def health(self, request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})


@pytest.fixture
def fake_rasa_server() -> Iterator[tuple[FakeRasaServer, str]]:
    fake = FakeRasaServer()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        fake.app, lifespan="off", log_level="warning", ws="none", loop="asyncio"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "fake Rasa did not start"
        time.sleep(0.01)
    yield fake, f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
async def gateway(fake_rasa_server: tuple[FakeRasaServer, str]) -> AsyncIterator[httpx.AsyncClient]:
    _, url = fake_rasa_server
    app = create_app(
        GatewaySettings(rasa_url=url, action_server_url=url, gateway_db=":memory:"),
        db_check=lambda: True,
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw.test") as c,
    ):
        yield c


async def test_message_round_trip_through_real_rasa_client(
    gateway: httpx.AsyncClient, fake_rasa_server: tuple[FakeRasaServer, str]
) -> None:
    fake, _ = fake_rasa_server

    response = await gateway.post(
        "/api/messages", json={"sender_id": "u-1", "text": "where is SO-1001?"}
    )

    assert response.status_code == 200
    assert response.json() == {
        "messages": [
            {
                "text": "Order SO-1001 ships tomorrow. Details: https://erp.example/o/SO-1001",
                "buttons": [{"title": "Track it", "payload": '/track_order{"order_id":"SO-1001"}'}],
            },
            {"text": None, "buttons": [], "image": "https://erp.example/map.png"},
        ]
    }
    [sent] = fake.requests
    assert len(sent["metadata"].pop("turn")) == 32  # names the turn for a take-back
    assert sent == {
        "sender": "rest:local:u-1",
        "message": "where is SO-1001?",
        "metadata": {
            "channel": "rest",
            "role": "customer",
            "staff_writes": False,
            "roles": [],
            "client": "ip:127.0.0.1",
            "group": False,
        },
    }


async def test_healthz_checks_real_endpoints(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"] == {"rasa": "ok", "actions": "ok", "database": "ok"}


async def test_rasa_refusing_connections_gives_503() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    app = create_app(
        GatewaySettings(rasa_url=f"http://127.0.0.1:{closed_port}", gateway_db=":memory:")
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw.test") as c,
    ):
        response = await c.post("/api/messages", json={"sender_id": "u-1", "text": "hi"})

    assert response.status_code == 503
    assert response.json() == {
        "error": "the assistant is temporarily unavailable, please try again"
    }
