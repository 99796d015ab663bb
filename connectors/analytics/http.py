"""The analytics routes of the agent console, for agents with the admin or support role.

- ``GET /agent/analytics``: the page (the console's login first; 403 without the role);
- ``GET /agent/api/analytics?from=&to=&channel=``: the figures as JSON;
- ``GET /agent/api/analytics.csv?...``: the same as CSV;
- ``GET /agent/api/analytics/plot.svg?figure=&...``: one chart (``charts.FIGURES``).

The API routes go through the console's session check (401 without a session); the role is
read at every request, so a revoke counts at once. Bad parameters get 400 with what was
wrong; a database that cannot be read, 503 with which one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.agents.auth import SESSION_COOKIE, AgentAuth, AgentSession
from connectors.agents.console import PAGE_HEADERS, STATIC_DIR
from connectors.agents.errors import Forbidden
from connectors.analytics.charts import FIGURES, chart
from connectors.analytics.errors import EventsUnavailable, InvalidQuery
from connectors.analytics.export import report_csv
from connectors.analytics.query import AnalyticsQuery, parse_query, shown
from connectors.analytics.service import AnalyticsService
from connectors.roles import ADMIN, SUPPORT

logger = logging.getLogger("connectors")

ROLES = (ADMIN, SUPPORT)
REFUSED = f"the analytics are for agents with the {' or '.join(ROLES)} role"
DATA_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
# An SVG opened on its own must not run anything either.
SVG_HEADERS = {**DATA_HEADERS, "Content-Security-Policy": "default-src 'none'"}

Endpoint = Callable[[Request], Awaitable[Response]]
AgentEndpoint = Callable[[Request, AgentSession], Awaitable[Response]]
Wrap = Callable[[AgentEndpoint], Endpoint]


def utc_today() -> date:
    """Today's date in UTC (the days the figures are counted in)."""
    return datetime.now(UTC).date()


class AnalyticsPages:
    """The page and its API; ``routes`` takes the console's session wrapper.

    Example:
        >>> pages = AnalyticsPages(auth, AnalyticsService(AnalyticsSources.of(settings)))
        >>> console = AgentConsole(auth, queue, canned, analytics=pages)  # adds the routes
    """

    def __init__(
        self,
        auth: AgentAuth,
        service: AnalyticsService,
        *,
        today: Callable[[], date] = utc_today,
    ) -> None:
        self.auth = auth
        self.service = service
        self.today = today

    def routes(self, api: Wrap) -> list[BaseRoute]:
        """The routes, the API ones wrapped by ``api`` (the console's session check)."""
        return [
            Route("/agent/analytics", self.page, methods=["GET"]),
            Route("/agent/api/analytics", api(self.data), methods=["GET"]),
            Route("/agent/api/analytics.csv", api(self.csv), methods=["GET"]),
            Route("/agent/api/analytics/plot.svg", api(self.plot), methods=["GET"]),
        ]

    async def page(self, request: Request) -> Response:
        """GET /agent/analytics: the page; without a session, to the console's login."""
        session = await self.auth.session(request.cookies.get(SESSION_COOKIE))
        if session is None:
            return Response(status_code=303, headers={"Location": "/agent"})
        if not await self._allowed(session):
            return PlainTextResponse(REFUSED, status_code=403, headers=PAGE_HEADERS)
        return FileResponse(STATIC_DIR / "analytics.html", media_type="text/html",
                            headers=PAGE_HEADERS)  # fmt: skip

    async def data(self, request: Request, session: AgentSession) -> Response:
        """GET /agent/api/analytics: every figure (``AnalyticsReport``) as JSON."""
        return await self._answer(request, session, self._json)

    async def csv(self, request: Request, session: AgentSession) -> Response:
        """GET /agent/api/analytics.csv: every figure, one ``section,name,value`` row each."""
        return await self._answer(request, session, self._csv)

    async def plot(self, request: Request, session: AgentSession) -> Response:
        """GET /agent/api/analytics/plot.svg?figure=: one of ``charts.FIGURES``."""
        figure = request.query_params.get("figure", "")
        return await self._answer(
            request, session, lambda query: self._svg(query, figure), extra=("figure",)
        )

    async def _answer(
        self,
        request: Request,
        session: AgentSession,
        respond: Callable[[AnalyticsQuery], Awaitable[Response]],
        *,
        extra: tuple[str, ...] = (),
    ) -> Response:
        """The role check, the query, and the one place analytics errors become responses."""
        if not await self._allowed(session):
            raise Forbidden(REFUSED)  # the console answers 403
        try:
            query = parse_query(request.query_params, today=self.today(), extra=extra)
            return await respond(query)
        except InvalidQuery as error:
            return _error(400, error.reason)
        except EventsUnavailable as error:
            logger.error("analytics unavailable: %s", error)
            return _error(503, str(error))

    async def _json(self, query: AnalyticsQuery) -> Response:
        report = await self.service.report(query)
        return JSONResponse(report.as_json(), headers=DATA_HEADERS)

    async def _csv(self, query: AnalyticsQuery) -> Response:
        report = await self.service.report(query)
        name = f"analytics-{query.start.isoformat()}-{query.end.isoformat()}"
        name += f"-{query.channel}.csv" if query.channel else ".csv"
        return Response(
            report_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={**DATA_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
        )

    async def _svg(self, query: AnalyticsQuery, figure: str) -> Response:
        if figure not in FIGURES:
            raise InvalidQuery(f"figure must be one of {', '.join(FIGURES)}, got {shown(figure)}")
        report = await self.service.report(query)
        return Response(chart(report, figure), media_type="image/svg+xml", headers=SVG_HEADERS)

    async def _allowed(self, session: AgentSession) -> bool:
        def held() -> bool:
            return any(self.auth.has_role(session.username, role) for role in ROLES)

        return await anyio.to_thread.run_sync(held)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=DATA_HEADERS)
