"""The analytics page's parameters: a date range (UTC days, both ends included) and a channel,
validated at the edge with a message that says what was wrong."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from connectors.analytics.errors import InvalidQuery
from connectors.analytics.records import CHANNELS

DEFAULT_DAYS = 30
MAX_DAYS = 366
PARAMETERS = ("from", "to", "channel")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SHOWN_CHARS = 40


@dataclass(frozen=True)
class AnalyticsQuery:
    """Which conversations the figures cover: those started from ``start`` to ``end`` (UTC
    days, both included) on ``channel`` (None: every channel).

    Example:
        >>> query = AnalyticsQuery(date(2026, 11, 1), date(2026, 11, 2))
        >>> query.days, query.end_ts - query.start_ts
        (2, 172800.0)
    """

    start: date
    end: date
    channel: str | None = None

    @property
    def start_ts(self) -> float:
        """The first second of ``start``, UTC, in seconds since the epoch."""
        return _midnight(self.start)

    @property
    def end_ts(self) -> float:
        """The first second after ``end`` (the range is ``[start_ts, end_ts)``)."""
        return _midnight(self.end + timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def day_list(self) -> list[date]:
        """Every day of the range, in order."""
        return [self.start + timedelta(days=i) for i in range(self.days)]


def parse_query(
    params: Mapping[str, str], *, today: date, extra: Collection[str] = ()
) -> AnalyticsQuery:
    """The query the request's parameters ask for.

    ``to`` defaults to ``today``, ``from`` to DEFAULT_DAYS days up to ``to``, ``channel`` to
    every channel (empty or ``all`` too). ``extra`` names other parameters the route takes.

    Raises:
        InvalidQuery: an unknown parameter, a date not written YYYY-MM-DD or not in the
            calendar, ``from`` after ``to``, a range over MAX_DAYS days, or an unknown channel.

    Example:
        >>> parse_query({"from": "2026-11-01", "channel": "web"}, today=date(2026, 11, 30))
        AnalyticsQuery(start=datetime.date(2026, 11, 1), end=datetime.date(2026, 11, 30), channel='web')
    """  # noqa: E501
    unknown = sorted(set(params) - set(PARAMETERS) - set(extra))
    if unknown:
        allowed = ", ".join((*PARAMETERS, *extra))
        raise InvalidQuery(f"unknown parameter {shown(unknown[0])}; the parameters: {allowed}")
    end = _date(params, "to") or today
    start = _date(params, "from") or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise InvalidQuery(f"from ({start.isoformat()}) is after to ({end.isoformat()})")
    days = (end - start).days + 1
    if days > MAX_DAYS:
        raise InvalidQuery(
            f"the range from {start.isoformat()} to {end.isoformat()} is {days} days; "
            f"at most {MAX_DAYS} at once"
        )
    channel = params.get("channel", "").strip().lower()
    if channel in ("", "all"):
        return AnalyticsQuery(start, end, None)
    if channel not in CHANNELS:
        raise InvalidQuery(
            f"channel must be one of {', '.join(CHANNELS)} (or empty for all), "
            f"got {shown(params['channel'])}"
        )
    return AnalyticsQuery(start, end, channel)


def _date(params: Mapping[str, str], name: str) -> date | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    if not _DATE.fullmatch(raw):
        raise InvalidQuery(f"{name} must be a date written YYYY-MM-DD, got {shown(raw)}")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidQuery(f"{name} is not a day of the calendar: {raw}") from None


def _midnight(day: date) -> float:
    return datetime.combine(day, time.min, tzinfo=UTC).timestamp()


def shown(value: str) -> str:
    """A value as quoted in an error message, cut short (it is the client's input)."""
    return repr(value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "…")
