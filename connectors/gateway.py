"""The gateway ASGI app: REST API, health check and the built-in chat page."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.to_thread
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from connectors.errors import BodyTooLarge, InvalidMessage, RasaUnavailable
from connectors.messages import (
    CheckResult,
    HealthReport,
    OutgoingMessage,
    RestMessage,
    RestReply,
)
from connectors.rasa_client import AssistantClient, RasaClient
from connectors.redaction import redact
from connectors.settings import GatewaySettings
from connectors.validation import MAX_BODY_BYTES, parse_rest_message

logger = logging.getLogger("connectors")

STATIC_DIR = Path(__file__).parent / "static"
HEALTH_TIMEOUT = 2.0
UNAVAILABLE_MESSAGE = "the assistant is temporarily unavailable, please try again"

# The chat page loads its script and style from /static, so no inline code is allowed.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' https: http: data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

DbCheck = Callable[[], bool]


def default_db_check() -> bool:
    """Ping the ERP database; erp is imported here so the gateway starts without it."""
    from erp.db import get_engine, ping

    return ping(get_engine())


def create_app(
    settings: GatewaySettings | None = None,
    *,
    db_check: DbCheck | None = None,
    rasa_client: AssistantClient | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """Build the gateway app.

    Args:
        settings: defaults to ``GatewaySettings.from_env()``.
        db_check: a blocking callable returning whether the database answers; run in a
            worker thread by /healthz. Defaults to ``erp.db.ping(erp.db.get_engine())``.
        rasa_client: replaces the RasaClient built at startup (tests pass a fake).
        transport: an httpx transport for the shared client (tests pass a MockTransport).

    Returns:
        The Starlette app; the shared ``httpx.AsyncClient`` lives for its lifespan.

    Example:
        >>> app = create_app(GatewaySettings(rasa_url="http://rasa:5005"))
        >>> # uvicorn.run(app, port=8080)
    """
    settings = settings or GatewaySettings.from_env()
    check_db = db_check or default_db_check

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(transport=transport) as http:
            app.state.http = http
            app.state.rasa = rasa_client or RasaClient(
                http,
                base_url=settings.rasa_url,
                timeout=settings.rasa_timeout,
                health_timeout=HEALTH_TIMEOUT,
            )
            logger.info(
                "gateway ready: rasa=%s actions=%s", settings.rasa_url, settings.action_server_url
            )
            yield

    async def post_message(request: Request) -> JSONResponse:
        body = await _read_body(request, limit=MAX_BODY_BYTES)
        message = parse_rest_message(body, max_chars=settings.max_message_chars)
        replies = await request.app.state.rasa.send(message)
        logger.info(
            "turn channel=%s sender=%s chars=%d replies=%d",
            message.channel,
            redact(message.sender_id),
            len(message.text),
            len(replies),
        )
        logger.debug("turn text from %s: %s", redact(message.sender_id), redact(message.text))
        reply: RestReply = {"messages": [_rest_message(r) for r in replies]}
        return JSONResponse(reply)

    async def healthz(request: Request) -> JSONResponse:
        rasa: AssistantClient = request.app.state.rasa
        http: httpx.AsyncClient = request.app.state.http
        checks: dict[str, CheckResult] = {}

        async def actions_healthy() -> bool:
            response = await http.get(
                settings.action_server_url + "/health", timeout=HEALTH_TIMEOUT
            )
            return response.status_code == 200

        async def run(name: str, check: Callable[[], Awaitable[bool]]) -> None:
            checks[name] = await _timed_check(name, check)

        async def db_healthy() -> bool:
            # A thread cannot be cancelled; abandoning it lets /healthz answer on time
            # while a hung connection attempt finishes in the background.
            return await anyio.to_thread.run_sync(check_db, abandon_on_cancel=True)

        async with anyio.create_task_group() as group:
            group.start_soon(run, "rasa", rasa.healthy)
            group.start_soon(run, "actions", actions_healthy)
            group.start_soon(run, "database", db_healthy)

        ordered = {name: checks[name] for name in ("rasa", "actions", "database")}
        down = [name for name, result in ordered.items() if result != "ok"]
        if not down:
            return JSONResponse(HealthReport(status="ok", checks=ordered))
        logger.warning("health check failed: %s", ", ".join(down))
        report = HealthReport(status="unavailable", down=down, checks=ordered)
        return JSONResponse(report, status_code=503)

    async def index(request: Request) -> Response:
        return FileResponse(
            STATIC_DIR / "index.html", media_type="text/html", headers=_PAGE_HEADERS
        )

    return Starlette(
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/api/messages", post_message, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        exception_handlers={
            BodyTooLarge: _body_too_large,
            InvalidMessage: _invalid_message,
            RasaUnavailable: _rasa_unavailable,
        },
        lifespan=lifespan,
    )


async def _timed_check(name: str, check: Callable[[], Awaitable[bool]]) -> CheckResult:
    try:
        with anyio.fail_after(HEALTH_TIMEOUT):
            return "ok" if await check() else "down"
    except TimeoutError:
        return "timeout"
    except Exception as error:
        logger.warning("health check %s raised %r", name, error)
        return "down"


async def _read_body(request: Request, *, limit: int) -> bytes:
    """Read the body, refusing it as soon as it passes ``limit`` bytes rather than after."""
    too_large = BodyTooLarge(f"body is larger than {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def _rest_message(message: OutgoingMessage) -> RestMessage:
    rest: RestMessage = {
        "text": message.text,
        "buttons": [{"title": b.title, "payload": b.payload} for b in message.buttons],
    }
    if message.image is not None:
        rest["image"] = message.image
    if message.custom is not None:
        rest["custom"] = message.custom
    return rest


# The one place gateway errors become HTTP responses.


async def _invalid_message(request: Request, error: Exception) -> Response:
    assert isinstance(error, InvalidMessage)
    logger.info("rejected %s %s: %s", request.method, request.url.path, redact(error.reason))
    return JSONResponse({"error": error.reason}, status_code=400)


async def _body_too_large(request: Request, error: Exception) -> Response:
    assert isinstance(error, BodyTooLarge)
    logger.info("rejected %s %s: %s", request.method, request.url.path, error.reason)
    return JSONResponse({"error": error.reason}, status_code=413)


async def _rasa_unavailable(request: Request, error: Exception) -> Response:
    logger.error("Rasa unavailable for %s %s: %s", request.method, request.url.path, error)
    return JSONResponse({"error": UNAVAILABLE_MESSAGE}, status_code=503)
