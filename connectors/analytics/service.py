"""Where the analytics figures come from and how they are served: read-only engines built on
first use, the reads and the computation in worker threads (a few at a time, so a busy page
never takes the threads the chat turns need), and each query's report kept CACHE_SECONDS.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
from sqlalchemy import Engine

from connectors.analytics.compute import compute_report
from connectors.analytics.errors import EventsUnavailable
from connectors.analytics.query import AnalyticsQuery
from connectors.analytics.reader import (
    EVENTS_SOURCE,
    GATEWAY_SOURCE,
    read_events,
    read_gateway_facts,
    read_only_engine,
)
from connectors.analytics.report import AnalyticsReport

if TYPE_CHECKING:
    from connectors.settings import GatewaySettings

CACHE_SECONDS = 30.0
CACHED_QUERIES = 32
# Reports computed at once; more requests wait for a thread (or for the one computing theirs).
WORKERS = 2


@dataclass(frozen=True)
class AnalyticsSources:
    """The databases the figures are read from, with their passwords apart from the URLs.

    Example:
        >>> AnalyticsSources.of(GatewaySettings()).gateway_url
        'sqlite:///var/gateway.db'
    """

    events_url: str = field(repr=False)
    gateway_url: str = field(repr=False)
    events_password: str = field(default="", repr=False)
    gateway_password: str = field(default="", repr=False)

    @classmethod
    def of(cls, settings: GatewaySettings) -> AnalyticsSources:
        """Rasa's tracker store as ANALYTICS_EVENTS_URL says, the gateway's own database."""
        return cls(
            events_url=settings.analytics_events_url,
            events_password=settings.analytics_events_password,
            gateway_url=settings.database_url or f"sqlite:///{settings.gateway_db}",
            gateway_password=settings.database_password,
        )


class AnalyticsService:
    """Reports for queries, read and computed off the event loop.

    Example:
        >>> service = AnalyticsService(AnalyticsSources.of(settings))
        >>> report = await service.report(AnalyticsQuery(date(2026, 11, 1), date(2026, 11, 30)))
        >>> service.close()
    """

    def __init__(
        self,
        sources: AnalyticsSources,
        *,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sources = sources
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._engines: dict[str, Engine] = {}
        self._engines_lock = threading.Lock()
        self._cache: OrderedDict[AnalyticsQuery, tuple[float, AnalyticsReport]] = OrderedDict()
        self._computing: dict[AnalyticsQuery, anyio.Lock] = {}
        self._limiter: anyio.CapacityLimiter | None = None

    async def report(self, query: AnalyticsQuery) -> AnalyticsReport:
        """The report of ``query``: from the cache when it is fresh, else computed in a worker
        thread (requests for the same query at the same moment share one computation).

        Raises:
            EventsUnavailable: a database cannot be read.
        """
        cached = self._fresh(query)
        if cached is not None:
            return cached
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(WORKERS)
        lock = self._computing.setdefault(query, anyio.Lock())
        async with lock:
            cached = self._fresh(query)
            if cached is not None:
                return cached
            report = await anyio.to_thread.run_sync(self.compute, query, limiter=self._limiter)
            self._cache[query] = (self._clock(), report)
            self._cache.move_to_end(query)
            while len(self._cache) > CACHED_QUERIES:
                dropped, _ = self._cache.popitem(last=False)
                self._computing.pop(dropped, None)
        return report

    def compute(self, query: AnalyticsQuery) -> AnalyticsReport:
        """Read and compute the report now (blocking: a worker thread's job).

        Raises:
            EventsUnavailable: a database cannot be read.
        """
        events = read_events(self._engine("events"), query)
        facts = read_gateway_facts(self._engine("gateway"), query)
        return compute_report(events, facts, query)

    def close(self) -> None:
        """Close the engines' connections (they are opened again if asked)."""
        with self._engines_lock:
            engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            engine.dispose()

    def _fresh(self, query: AnalyticsQuery) -> AnalyticsReport | None:
        cached = self._cache.get(query)
        if cached is None or self._clock() - cached[0] >= self.cache_seconds:
            return None
        return cached[1]

    def _engine(self, which: str) -> Engine:
        with self._engines_lock:
            engine = self._engines.get(which)
            if engine is not None:
                return engine
            sources = self.sources
            url, password, source = (
                (sources.events_url, sources.events_password, EVENTS_SOURCE)
                if which == "events"
                else (sources.gateway_url, sources.gateway_password, GATEWAY_SOURCE)
            )
            try:
                engine = read_only_engine(url, password=password)
            except ValueError as error:
                raise EventsUnavailable(source, str(error)) from None
            self._engines[which] = engine
            return engine
