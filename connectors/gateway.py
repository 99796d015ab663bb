"""The gateway ASGI app: REST API, web chat (Socket.IO), Telegram, Slack, health, metrics,
demo page."""

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
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from connectors.agents.wiring import AgentSide
from connectors.analytics.service import AnalyticsService, AnalyticsSources
from connectors.channels.slack import SlackChannel
from connectors.channels.telegram import TelegramChannel
from connectors.channels.web import DAY_SECONDS, SessionTokens, WebChannel, session_secret
from connectors.draft_relay import DraftRelay
from connectors.errors import (
    BodyTooLarge,
    InvalidMessage,
    RasaUnavailable,
    RateLimited,
    StoreUnavailable,
    Unauthorized,
)
from connectors.handoff.service import build_handoff
from connectors.messages import CheckResult, HealthReport, RestReply, rest_message
from connectors.metrics import GatewayMetrics, metrics_routes
from connectors.rasa_client import AssistantClient, RasaClient
from connectors.ratelimit import RateLimiter, RedisRateLimiter
from connectors.retention import Retention, RetentionTask
from connectors.settings import GatewaySettings
from connectors.store import GatewayStore
from connectors.streaming import route_drafts, stream_route
from connectors.turns import UNAVAILABLE_MESSAGE, Turns
from connectors.validation import (
    MAX_BODY_BYTES,
    parse_rest_message,
    read_body,
    rest_caller,
    sender_id,
)
from contracts.redaction import redact

logger = logging.getLogger("connectors")

STATIC_DIR = Path(__file__).parent / "static"
HEALTH_TIMEOUT = 2.0
__all__ = ["UNAVAILABLE_MESSAGE", "create_app"]

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
    store = GatewayStore.of(settings)
    retention = RetentionTask(
        store, Retention(transcript_days=settings.transcript_days, outbox_days=settings.outbox_days)
    )
    handoff = build_handoff(settings.handoff, store)
    queue = handoff.queue if handoff is not None else None
    metrics = GatewayMetrics()
    limiter: RateLimiter | RedisRateLimiter = (
        RedisRateLimiter(
            settings.rate_limit_redis_url,
            prefix=settings.rate_limit_redis_prefix,
            password=settings.rate_limit_redis_password,
            per_minute=settings.rate_limit_per_minute,
            burst=settings.rate_limit_burst,
        )
        if settings.rate_limit_redis_url
        else RateLimiter(per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst)
    )
    turns = Turns(
        store=store,
        limiter=limiter,
        max_chars=settings.max_message_chars,
        queue=queue,
        detector=handoff.detector if handoff is not None else None,
        metrics=metrics,
    )
    web = WebChannel(
        turns,
        origins=settings.widget_origins,
        tokens=SessionTokens(
            session_secret(settings.web_session_secret),
            max_age=settings.web_session_days * DAY_SECONDS,
        ),
        redis_url=settings.socketio_redis_url,
        redis_password=settings.rate_limit_redis_password,
        redis_prefix=settings.rate_limit_redis_prefix,
    )
    telegram = (
        TelegramChannel(settings.telegram, turns)
        if settings.telegram.disabled_reason() is None
        else None
    )
    slack = (
        SlackChannel(settings.slack, turns) if settings.slack.disabled_reason() is None else None
    )
    drafts = route_drafts(channel for channel in (web, telegram, slack) if channel is not None)
    # Replicas sharing Redis pass Telegram and Slack drafts to the one holding the turn
    # (drafts are on with an internal token only).
    relay = (
        DraftRelay(
            settings.socketio_redis_url,
            sink=drafts,
            prefix=settings.rate_limit_redis_prefix,
            password=settings.rate_limit_redis_password,
        )
        if settings.socketio_redis_url and settings.internal_token
        else None
    )
    # The agent console and the Slack agent channel work on the queue.
    agents = (
        AgentSide.build(
            store,
            queue,
            slack=slack,
            turns=turns,
            analytics=AnalyticsService(AnalyticsSources.of(settings)),
        )
        if queue is not None
        else None
    )
    if queue is not None:
        # Agent replies and handoff notices reach each channel through its push; REST
        # clients fetch theirs (GET /api/messages/{sender_id}/pending, or the next POST).
        for channel in (web, telegram, slack):
            if channel is not None:
                queue.delivery.register(channel.name, channel.push)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(transport=transport) as http:
            app.state.http = http
            app.state.rasa = turns.rasa = rasa_client or RasaClient(
                http,
                base_url=settings.rasa_url,
                token=settings.rasa_token,
                timeout=settings.rasa_timeout,
                health_timeout=HEALTH_TIMEOUT,
            )
            app.state.turns = turns
            app.state.retention = retention
            retention.start()
            app.state.metrics = metrics
            app.state.handoff_queue = queue
            if handoff is not None:
                await handoff.start(app.state.rasa)
            app.state.agents = agents
            if agents is not None:
                await agents.start()
            app.state.telegram = telegram
            app.state.slack = slack
            for name, reason in (
                ("telegram", settings.telegram.disabled_reason()),
                ("slack", settings.slack.disabled_reason()),
            ):
                if reason is not None:
                    logger.info("%s channel disabled: %s", name, reason)
            if telegram is not None:
                await telegram.start()
            if slack is not None:
                await slack.start()
            app.state.draft_relay = relay
            if relay is not None:
                relay.start()
            logger.info(
                "gateway ready: rasa=%s actions=%s channels=%s",
                settings.rasa_url,
                settings.action_server_url,
                ",".join(c.name for c in (web, telegram, slack) if c is not None),
            )
            try:
                yield
            finally:
                if relay is not None:
                    await relay.stop()
                if agents is not None:
                    await agents.stop()
                if handoff is not None:
                    await handoff.stop()
                if slack is not None:
                    await slack.stop()
                if telegram is not None:
                    await telegram.stop()
                await retention.stop()
                if isinstance(limiter, RedisRateLimiter):
                    await limiter.close()
                store.close()

    async def post_message(request: Request) -> JSONResponse:
        # Who is asking decides which conversations it may touch, before the body is read.
        caller = rest_caller(request, settings.api_keys)
        body = await read_body(request, limit=MAX_BODY_BYTES)
        message = caller.message(parse_rest_message(body, max_chars=settings.max_message_chars))
        replies = await turns.handle(message)
        if queue is not None:
            # An agent's replies since the client's last request come first.
            replies = [*await queue.delivery.take(message.sender_id), *replies]
        reply: RestReply = {"messages": [rest_message(r) for r in replies]}
        return JSONResponse(reply)

    async def pending_messages(request: Request) -> JSONResponse:
        caller = rest_caller(request, settings.api_keys)
        sender = caller.conversation(sender_id(request.path_params["sender_id"]))
        pending = await queue.delivery.take(sender) if queue is not None else []
        reply: RestReply = {"messages": [rest_message(r) for r in pending]}
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

    routes: list[BaseRoute] = [
        Route("/", index, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        *metrics_routes(metrics, settings.metrics_token),
        Route("/api/messages", post_message, methods=["POST"]),
        Route("/api/messages/{sender_id:path}/pending", pending_messages, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        # The company documents, so the citations of document answers open in the browser.
        Mount("/docs", StaticFiles(directory=settings.docs_dir, check_dir=False), name="docs"),
        Mount("/socket.io", app=web.asgi_app()),
        stream_route(settings.internal_token, relay.show if relay is not None else drafts),
    ]
    routes += (
        telegram.routes()
        if telegram
        else _disabled("telegram", ["/telegram/webhook"], settings.telegram.disabled_reason())
    )
    routes += agents.routes() if agents is not None else []
    routes += slack.routes() if slack else _disabled(
        "slack", ["/slack/events", "/slack/commands", "/slack/interactions"],
        settings.slack.disabled_reason())  # fmt: skip
    return Starlette(
        routes=routes,
        exception_handlers={
            BodyTooLarge: _body_too_large,
            InvalidMessage: _invalid_message,
            RasaUnavailable: _rasa_unavailable,
            StoreUnavailable: _store_unavailable,
            RateLimited: _rate_limited,
            Unauthorized: _unauthorized,
        },
        lifespan=lifespan,
    )


def _disabled(channel: str, paths: list[str], reason: str | None) -> list[BaseRoute]:
    """Routes of a disabled channel: 404 that says why, instead of a bare not-found."""

    async def endpoint(request: Request) -> Response:
        return JSONResponse({"error": f"the {channel} channel is disabled: {reason}"}, 404)

    return [Route(path, endpoint, methods=["POST"]) for path in paths]


async def _timed_check(name: str, check: Callable[[], Awaitable[bool]]) -> CheckResult:
    try:
        with anyio.fail_after(HEALTH_TIMEOUT):
            return "ok" if await check() else "down"
    except TimeoutError:
        return "timeout"
    except Exception as error:
        logger.warning("health check %s raised %r", name, error)
        return "down"


# The one place gateway errors become HTTP responses.


def _count_error(request: Request, kind: str) -> None:
    """Count a request refused before any turn (turns count their own errors)."""
    metrics: GatewayMetrics | None = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.error(kind)


async def _invalid_message(request: Request, error: Exception) -> Response:
    assert isinstance(error, InvalidMessage)
    logger.info("rejected %s %s: %s", request.method, request.url.path, redact(error.reason))
    return JSONResponse({"error": error.reason}, status_code=400)


async def _body_too_large(request: Request, error: Exception) -> Response:
    assert isinstance(error, BodyTooLarge)
    _count_error(request, "body_too_large")
    logger.info("rejected %s %s: %s", request.method, request.url.path, error.reason)
    return JSONResponse({"error": error.reason}, status_code=413)


async def _rate_limited(request: Request, error: Exception) -> Response:
    assert isinstance(error, RateLimited)
    seconds = max(1, round(error.retry_after))
    return JSONResponse(
        {"error": f"too many messages from this client, retry in {seconds} s"},
        status_code=429,
        headers={"Retry-After": str(seconds)},
    )


async def _unauthorized(request: Request, error: Exception) -> Response:
    assert isinstance(error, Unauthorized)
    _count_error(request, "unauthorized")
    # Not the path: the pending endpoint's carries the client's sender id.
    logger.info("refused a REST %s: %s", request.method, error.reason)
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    return JSONResponse({"error": error.reason}, status_code=error.status, headers=headers)


async def _store_unavailable(request: Request, error: Exception) -> Response:
    logger.error("gateway database unavailable for %s %s: %s", request.method,
                 request.url.path, error)  # fmt: skip
    return JSONResponse({"error": UNAVAILABLE_MESSAGE}, status_code=503)


async def _rasa_unavailable(request: Request, error: Exception) -> Response:
    logger.error("Rasa unavailable for %s %s: %s", request.method, request.url.path, error)
    return JSONResponse({"error": UNAVAILABLE_MESSAGE}, status_code=503)
