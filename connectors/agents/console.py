"""The agent console: a page at /agent and its JSON API under /agent/api, live over SSE.

Every /agent/api route but login needs a session cookie; every state-changing one also needs
the session's CSRF token in ``X-CSRF-Token`` and, when the browser sends one, a same-site
``Origin``. The queue reaches the browser as Server-Sent Events from ``HandoffQueue.subscribe()``
at /agent/api/events: a ``snapshot`` of the open handoffs when the stream opens, then each
queue event as it happens, and a comment every ``heartbeat`` seconds so a dead connection
is noticed. While a stream is open its agent counts as online, on the other replicas through
the stamp its heartbeats write (``AgentAuth.streaming``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from connectors.agents.ask import ConsoleAsk
from connectors.agents.auth import CSRF_HEADER, SESSION_COOKIE, AgentAuth, AgentSession
from connectors.agents.canned import CannedReplies
from connectors.agents.errors import (
    AgentError,
    Conflict,
    Forbidden,
    InvalidAgentInput,
    LoginBusy,
    LoginFailed,
    LoginThrottled,
    NotFound,
)
from connectors.errors import GatewayError, InvalidMessage
from connectors.handoff.errors import (
    HandoffConflict,
    HandoffError,
    HandoffNotFound,
    InvalidHandoffInput,
)
from connectors.handoff.facts import context_facts
from connectors.handoff.queue import OPEN_STATUSES, Handoff, HandoffQueue, HandoffStatus
from connectors.roles import ADMIN
from connectors.validation import MAX_MESSAGE_CHARS, clean_text, load_json_object, read_body
from contracts.redaction import redact

if TYPE_CHECKING:
    from connectors.analytics.http import AnalyticsPages

logger = logging.getLogger("connectors")

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
HEARTBEAT_SECONDS = 15.0
STOP_CHECK_SECONDS = 0.5
MAX_NOTE_CHARS = 1000
_STATUSES = ("waiting", "assigned", "resolved")

# The console's page loads script and style from /static only; nothing inline.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' https: data:; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

# Set when the server starts shutting down: open event streams end, so it need not wait on them
# (the browser reconnects to the next server on its own).
_STOPPING = threading.Event()

Endpoint = Callable[[Request], Awaitable[Response]]
AgentEndpoint = Callable[[Request, AgentSession], Awaitable[Response]]


def stop_streams() -> None:
    """End every open console event stream of this process (call it when shutdown begins)."""
    _STOPPING.set()


def handoff_json(handoff: Handoff) -> dict[str, Any]:
    """A handoff as the console's JSON (the dataclass, trigger included, made JSON-safe).

    ``context`` is what the page shows as known: one ``{label, value, note, status}`` per
    fact, ``status`` ``verified`` or ``unverified`` for customer records
    (`connectors.handoff.facts.context_facts`).
    """
    data: dict[str, Any] = jsonable(dataclasses.asdict(handoff))
    data["context"] = [dataclasses.asdict(fact) for fact in context_facts(handoff.slots)]
    return data


def jsonable(value: Any) -> Any:
    """``value`` with anything JSON cannot carry (dataclasses, sets, dates) made into JSON."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


class AgentConsole:
    """The console's routes, wired to the agents' auth, the handoff queue and canned replies,
    and with ``ask`` the Ask panel's (`connectors.agents.ask`).

    Example:
        >>> console = AgentConsole(auth, queue, CannedReplies(store), ask=ConsoleAsk(auth, turns))
        >>> routes += console.routes()  # /agent, /agent/api/...
    """

    def __init__(
        self,
        auth: AgentAuth,
        queue: HandoffQueue,
        canned: CannedReplies,
        *,
        heartbeat: float = HEARTBEAT_SECONDS,
        ask: ConsoleAsk | None = None,
        analytics: AnalyticsPages | None = None,
    ) -> None:
        self.auth = auth
        self.queue = queue
        self.canned = canned
        self.heartbeat = heartbeat
        self.ask = ask
        self.analytics = analytics

    def routes(self) -> list[BaseRoute]:
        """The page and the JSON API."""
        api = self._api
        ask: list[BaseRoute] = []
        if self.ask is not None:
            ask = [
                Route("/agent/api/ask", api(self.ask.history), methods=["GET"]),
                Route("/agent/api/ask", api(self.ask.send, write=True), methods=["POST"]),
            ]
        # The analytics page and its API (connectors/analytics/http.py).
        analytics = self.analytics.routes(api) if self.analytics is not None else []
        return ask + analytics + [
            Route("/agent", self.page, methods=["GET"]),
            Route("/agent/", self.page, methods=["GET"]),
            Route("/agent/api/login", self.login, methods=["POST"]),
            Route("/agent/api/logout", self.logout, methods=["POST"]),
            Route("/agent/api/me", api(self.me), methods=["GET"]),
            Route("/agent/api/events", api(self.events), methods=["GET"]),
            Route("/agent/api/agents", api(self.list_agents), methods=["GET"]),
            Route("/agent/api/handoffs", api(self.list_handoffs), methods=["GET"]),
            Route("/agent/api/handoffs/{id:int}", api(self.detail), methods=["GET"]),
            Route("/agent/api/handoffs/{id:int}/claim", api(self.claim, write=True),
                  methods=["POST"]),
            Route("/agent/api/handoffs/{id:int}/assign", api(self.assign, write=True),
                  methods=["POST"]),
            Route("/agent/api/handoffs/{id:int}/reply", api(self.reply, write=True),
                  methods=["POST"]),
            Route("/agent/api/handoffs/{id:int}/resolve", api(self.resolve, write=True),
                  methods=["POST"]),
            Route("/agent/api/audit", api(self.audit), methods=["GET"]),
            Route("/agent/api/canned", api(self.list_canned), methods=["GET"]),
            Route("/agent/api/canned", api(self.add_canned, write=True), methods=["POST"]),
            Route("/agent/api/canned/{id:int}", api(self.remove_canned, write=True),
                  methods=["DELETE"]),
        ]  # fmt: skip

    # The page and the session.

    async def page(self, request: Request) -> Response:
        """GET /agent: the console (it shows the login form until there is a session)."""
        return FileResponse(STATIC_DIR / "agent.html", media_type="text/html",
                            headers=PAGE_HEADERS)  # fmt: skip

    async def login(self, request: Request) -> Response:
        """POST /agent/api/login ``{username, password}``: set the session cookie."""
        try:
            if not _same_origin(request):
                return _error(403, "cross-site login refused")
            body = load_json_object(await read_body(request))
            username, password = body.get("username"), body.get("password")
            if not isinstance(username, str) or not isinstance(password, str):
                raise InvalidAgentInput("username and password must be strings")
            client = request.client.host if request.client else "unknown"
            token, session = await self.auth.login(username, password, client=client)
        except (AgentError, InvalidMessage) as error:
            if isinstance(error, LoginFailed | LoginThrottled | LoginBusy):
                logger.warning("agent login refused for %s: %s", redact(str(username)), error)
            return _error_of(error)
        logger.info("agent %s logged in", session.username)
        # What /me says, so that the page shows the Ask panel and the admin's parts at once.
        response = JSONResponse(await self._whoami(session))
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=int(self.auth.settings.session_max_seconds),
            path="/agent",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def logout(self, request: Request) -> Response:
        """POST /agent/api/logout: end the session (CSRF-checked when there is one)."""
        token = request.cookies.get(SESSION_COOKIE)
        session = await self.auth.session(token)
        if session is not None and not self.auth.csrf_ok(session, request.headers.get(CSRF_HEADER)):
            return _error(403, "missing or wrong X-CSRF-Token header: reload the console")
        await self.auth.logout(token)
        response = JSONResponse({"ok": True})
        response.delete_cookie(SESSION_COOKIE, path="/agent", httponly=True, samesite="strict")
        return response

    async def me(self, request: Request, session: AgentSession) -> Response:
        """GET /agent/api/me: who is logged in, their roles, whether the Ask panel is there,
        and the CSRF token for writes."""
        return JSONResponse(await self._whoami(session))

    async def _whoami(self, session: AgentSession) -> dict[str, Any]:
        roles = await anyio.to_thread.run_sync(self.auth.roles, session.username)
        return {**_session_json(session), "roles": roles, "ask": self.ask is not None}

    async def audit(self, request: Request, session: AgentSession) -> Response:
        """GET /agent/api/audit?conversation=&customer=&since=&limit=: the ERP reads and
        writes made for conversations (erp/audit.py), newest last. Admins only (403)."""
        if not await anyio.to_thread.run_sync(self.auth.has_role, session.username, ADMIN):
            raise Forbidden("the audit trail is for agents with the admin role")
        filters: dict[str, str] = {}
        for name in ("conversation", "customer", "since"):
            value = request.query_params.get(name, "").strip()
            if len(value) > MAX_AUDIT_FILTER:
                raise InvalidAgentInput(f"{name} is too long")
            if value:
                filters[name] = value
        try:
            limit = int(request.query_params.get("limit", "100"))
        except ValueError:
            raise InvalidAgentInput("limit must be a whole number") from None
        from erp.audit import audit_trail  # the gateway starts without the ERP layer

        events = await anyio.to_thread.run_sync(
            lambda: audit_trail().query(**filters, limit=max(1, min(limit, 1000)))
        )
        return JSONResponse({"events": [dataclasses.asdict(e) for e in events]})

    async def list_agents(self, request: Request, session: AgentSession) -> Response:
        """GET /agent/api/agents: colleagues a handoff can be assigned to."""
        agents = await anyio.to_thread.run_sync(self.auth.list_agents)
        return JSONResponse(
            {"agents": [{"username": a.username, "display_name": a.display_name} for a in agents]}
        )

    # The queue.

    async def list_handoffs(self, request: Request, session: AgentSession) -> Response:
        """GET /agent/api/handoffs[?status=waiting,assigned,resolved]: priority first."""
        raw = request.query_params.get("status") or ",".join(OPEN_STATUSES)
        statuses = tuple(part.strip() for part in raw.split(",") if part.strip())
        unknown = [s for s in statuses if s not in _STATUSES]
        if unknown or not statuses:
            raise InvalidAgentInput(
                f"status must be a comma-separated list of {', '.join(_STATUSES)}, got {raw!r}"
            )
        handoffs = await self.queue.list(cast(tuple[HandoffStatus, ...], statuses))
        return JSONResponse({"handoffs": [handoff_json(h) for h in handoffs]})

    async def detail(self, request: Request, session: AgentSession) -> Response:
        """GET /agent/api/handoffs/{id}: the handoff and its conversation's transcript."""
        handoff = await self._handoff(request)
        transcript = await self.queue.transcript(handoff.conversation_id)
        return JSONResponse({"handoff": handoff_json(handoff), "transcript": jsonable(transcript)})

    async def claim(self, request: Request, session: AgentSession) -> Response:
        """POST /agent/api/handoffs/{id}/claim: 200 if this agent has it now, 409 if not."""
        handoff = await self._handoff(request)
        if await self.queue.claim(handoff.id, session.username):
            logger.info("agent %s claimed handoff %d", session.username, handoff.id)
        current = await self.queue.get(handoff.id)
        assert current is not None
        if current.status != "assigned" or current.agent != session.username:
            raise Conflict(_not_yours(current))
        return JSONResponse({"handoff": handoff_json(current)})

    async def assign(self, request: Request, session: AgentSession) -> Response:
        """POST /agent/api/handoffs/{id}/assign ``{agent}``: give it to a colleague.

        A waiting handoff can be assigned by any agent, an assigned one only by its holder
        (a transfer); the colleague must have a console account.
        """
        handoff = await self._handoff(request)
        body = load_json_object(await read_body(request))
        target = body.get("agent")
        if not isinstance(target, str) or not target.strip():
            raise InvalidAgentInput("agent must be a username")
        target = target.strip()
        if await anyio.to_thread.run_sync(self.auth.get_agent, target) is None:
            raise InvalidAgentInput(f"no agent is called {target!r}")
        current = await self.queue.assign(handoff.id, session.username, target)
        logger.info("agent %s assigned handoff %d to %s", session.username, handoff.id, target)
        return JSONResponse({"handoff": handoff_json(current)})

    async def reply(self, request: Request, session: AgentSession) -> Response:
        """POST /agent/api/handoffs/{id}/reply ``{text}``: send it to the customer."""
        handoff = await self._handoff(request)
        body = load_json_object(await read_body(request))
        text = body.get("text")
        if not isinstance(text, str):
            raise InvalidAgentInput("text must be a string")
        text = clean_text(text)
        if not text:
            raise InvalidAgentInput("text must not be empty")
        if len(text) > MAX_MESSAGE_CHARS:
            raise InvalidAgentInput(
                f"text is longer than {MAX_MESSAGE_CHARS} characters ({len(text)})"
            )
        if handoff.status != "assigned" or handoff.agent != session.username:
            raise Conflict(_not_yours(handoff, action="reply"))
        await self.queue.agent_reply(handoff.id, session.username, text)
        return JSONResponse({"ok": True})

    async def resolve(self, request: Request, session: AgentSession) -> Response:
        """POST /agent/api/handoffs/{id}/resolve ``{note?}``: hand the conversation back."""
        handoff = await self._handoff(request)
        body = load_json_object(await read_body(request) or b"{}")
        note = body.get("note", "")
        if not isinstance(note, str):
            raise InvalidAgentInput("note must be a string")
        note = clean_text(note)
        if len(note) > MAX_NOTE_CHARS:
            raise InvalidAgentInput(f"note is longer than {MAX_NOTE_CHARS} characters "
                                    f"({len(note)})")  # fmt: skip
        # An unclaimed handoff may be closed by anyone (spam, a duplicate); a claimed one only
        # by the agent who has it. Checked here for a clear message; the queue's conditional
        # update is what holds when another agent claims or resolves at the same moment
        # (HandoffConflict, 409 too).
        if handoff.status == "resolved" or (
            handoff.status == "assigned" and handoff.agent != session.username
        ):
            raise Conflict(_not_yours(handoff, action="resolve"))
        await self.queue.resolve(handoff.id, session.username, note)
        logger.info("agent %s resolved handoff %d", session.username, handoff.id)
        return JSONResponse({"ok": True})

    async def events(self, request: Request, session: AgentSession) -> Response:
        """GET /agent/api/events: the live queue as Server-Sent Events."""
        token = request.cookies.get(SESSION_COOKIE, "")
        return StreamingResponse(
            self._stream(token, session.username),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def _stream(self, token: str, username: str) -> AsyncIterator[str]:
        # Subscribed before the snapshot is read, so no event falls between the two.
        # The agent counts as online, on every replica, while the stream is open.
        async with self.auth.streaming(username) as presence, self.queue.subscribe() as events:
            handoffs = await self.queue.list(OPEN_STATUSES)
            yield _sse("snapshot", {"handoffs": [handoff_json(h) for h in handoffs]})
            quiet_since = time.monotonic()
            while not _STOPPING.is_set():
                try:
                    # Short waits, so a stream ends soon after the server starts stopping.
                    event = await events.get(timeout=min(self.heartbeat, STOP_CHECK_SECONDS))
                except TimeoutError:
                    if time.monotonic() - quiet_since < self.heartbeat:
                        continue
                    message = ": ping\n\n"
                else:
                    message = _sse("queue", jsonable(event))
                quiet_since = time.monotonic()
                # Before every event and heartbeat: a busy queue must not keep feeding a
                # session that expired or logged out (without touching it: an open but
                # unused console still goes idle).
                if await self.auth.session(token, touch=False) is None:
                    yield _sse("expired", {"reason": "the session has expired or ended"})
                    return
                await self.auth.heartbeat(presence)
                yield message

    # Canned replies.

    async def list_canned(self, request: Request, session: AgentSession) -> Response:
        """GET /agent/api/canned: every canned reply."""
        replies = await self.canned.all()
        return JSONResponse({"replies": [dataclasses.asdict(r) for r in replies]})

    async def add_canned(self, request: Request, session: AgentSession) -> Response:
        """POST /agent/api/canned ``{title, text}``: an agent's own canned reply."""
        body = load_json_object(await read_body(request))
        title, text = body.get("title"), body.get("text")
        if not isinstance(title, str) or not isinstance(text, str):
            raise InvalidAgentInput("title and text must be strings")
        reply = await self.canned.add(title, text, agent=session.username)
        return JSONResponse({"reply": dataclasses.asdict(reply)}, status_code=201)

    async def remove_canned(self, request: Request, session: AgentSession) -> Response:
        """DELETE /agent/api/canned/{id}: remove one of this agent's own replies.

        404 when there is no such reply, 403 for a company default or another agent's.
        """
        await self.canned.remove(int(request.path_params["id"]), agent=session.username)
        return JSONResponse({"ok": True})

    # Plumbing.

    def _api(self, handler: AgentEndpoint, *, write: bool = False) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            try:
                session = await self.auth.session(request.cookies.get(SESSION_COOKIE))
                if session is None:
                    return _error(401, "log in first: no valid agent session")
                if write and not _same_origin(request):
                    return _error(403, "cross-site request refused")
                if write and not self.auth.csrf_ok(session, request.headers.get(CSRF_HEADER)):
                    return _error(403, "missing or wrong X-CSRF-Token header: reload the console")
                return await handler(request, session)
            except (AgentError, InvalidMessage, HandoffError) as error:
                return _error_of(error)
            except GatewayError as error:
                logger.error("agent console %s %s failed: %s", request.method,
                             request.url.path, error)  # fmt: skip
                return _error(502, f"could not complete the request: {error}")

        return endpoint

    async def _handoff(self, request: Request) -> Handoff:
        handoff_id = int(request.path_params["id"])
        handoff = await self.queue.get(handoff_id)
        if handoff is None:
            raise NotFound(f"no handoff with id {handoff_id}")
        return handoff


def _not_yours(handoff: Handoff, *, action: str = "claim") -> str:
    if handoff.status == "resolved":
        return f"handoff {handoff.id} is already resolved"
    if handoff.status == "assigned":
        return f"{handoff.agent} already claimed handoff {handoff.id}"
    return f"claim handoff {handoff.id} before you {action}"


MAX_AUDIT_FILTER = 200


def _session_json(session: AgentSession) -> dict[str, Any]:
    return {
        "username": session.username,
        "display_name": session.display_name,
        "csrf_token": session.csrf_token,
        "expires_at": session.expires_at,
    }


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _same_origin(request: Request) -> bool:
    """False when the browser says the request came from another site (Origin header)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _error_of(error: Exception) -> JSONResponse:
    """The one place the agents package's errors become HTTP responses."""
    if isinstance(error, LoginThrottled):
        seconds = max(1, round(error.retry_after))
        return _error(429, str(error), {"Retry-After": str(seconds)})
    if isinstance(error, LoginBusy):
        return _error(503, str(error), {"Retry-After": str(max(1, round(error.retry_after)))})
    if isinstance(error, LoginFailed):
        return _error(401, str(error))
    if isinstance(error, Forbidden):
        return _error(403, str(error))
    if isinstance(error, Conflict | HandoffConflict):
        return _error(409, str(error))
    if isinstance(error, NotFound | HandoffNotFound):
        return _error(404, str(error))
    if isinstance(error, InvalidAgentInput | InvalidMessage | InvalidHandoffInput):
        return _error(400, error.reason)
    return _error(400, str(error))
