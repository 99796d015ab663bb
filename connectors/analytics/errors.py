"""The analytics package's exceptions; ``connectors.analytics.http`` maps each to an HTTP
status in one place."""

from __future__ import annotations


class AnalyticsError(Exception):
    """Base class for every error the analytics package raises on purpose."""


class InvalidQuery(AnalyticsError, ValueError):
    """A query parameter that cannot be used; ``reason`` says which and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EventsUnavailable(AnalyticsError):
    """The conversation events or the gateway's state could not be read (the database is
    missing, unreachable or refused the query); ``source`` names which."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"the {source} cannot be read: {reason}")
        self.source = source
        self.reason = reason
