"""Business hours of the support team, and whether a person can answer a handoff now."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.handoff.errors import InvalidHandoffInput
from i18n import formatting
from i18n.languages import Language
from i18n.texts import say

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

Reason = Literal["open", "out_of_hours", "no_agent"]


@dataclass(frozen=True)
class BusinessHours:
    """When the support team works: weekdays, opening and closing time, time zone, holidays.

    The defaults are the company's published hours (data/docs/account/contacting-support.md):
    Monday to Friday, 8:00 to 18:00 UK time.

    Example:
        >>> hours = BusinessHours.parse("Mon-Fri", "08:00-18:00", "Europe/London")
        >>> hours.is_open(dt.datetime(2026, 11, 2, 9, 0, tzinfo=ZoneInfo("Europe/London")))
        True
    """

    days: frozenset[int] = frozenset(range(5))
    opens: dt.time = dt.time(8, 0)
    closes: dt.time = dt.time(18, 0)
    timezone: str = "Europe/London"
    holidays: frozenset[dt.date] = frozenset()

    @classmethod
    def parse(cls, days: str, hours: str, timezone: str, holidays: str = "") -> BusinessHours:
        """Build from text: days ``Mon-Fri`` or ``Mon,Wed,Sat``, hours ``08:00-18:00``, an IANA
        time zone, and holidays as comma-separated ISO dates.

        Raises:
            InvalidHandoffInput: a part that cannot be read, naming it and the value.
        """
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidHandoffInput(f"unknown time zone {timezone!r}") from None
        opens, closes = _hours(hours)
        return cls(
            days=_days(days),
            opens=opens,
            closes=closes,
            timezone=timezone,
            holidays=_holidays(holidays),
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_open(self, at: dt.datetime | float) -> bool:
        """Whether the team works at ``at`` (an aware datetime or a Unix timestamp)."""
        local = self._local(at)
        return (
            local.weekday() in self.days
            and local.date() not in self.holidays
            and self.opens <= local.time() < self.closes
        )

    def next_open(self, at: dt.datetime | float) -> dt.datetime:
        """The next moment the team opens, at or after ``at``, in the team's time zone."""
        local = self._local(at)
        for offset in range(0, 400):
            day = local.date() + dt.timedelta(days=offset)
            if day.weekday() not in self.days or day in self.holidays:
                continue
            opening = dt.datetime.combine(day, self.opens, tzinfo=self.zone)
            if offset == 0 and local.time() >= self.closes:
                continue
            return max(opening, local)
        raise InvalidHandoffInput("the business hours never open (check the days and holidays)")

    def describe(self, language: Language = "en") -> str:
        """The hours as a sentence fragment: ``Monday to Friday, 08:00-18:00 UK time``
        (``周一至周五、08:00-18:00 英国时间`` in Chinese)."""
        ordered = sorted(self.days)
        names = [say(f"day.{d}", language) for d in ordered]
        if ordered and ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 2:
            days = say("hours.range", language, first=names[0], last=names[-1])
        else:
            days = say("hours.list_separator", language).join(names)
        zone = say("hours.uk_time", language) if self.timezone == "Europe/London" else self.timezone
        separator = say("hours.list_separator", language)
        return f"{days}{separator}{self.opens:%H:%M}-{self.closes:%H:%M} {zone}"

    def _local(self, at: dt.datetime | float) -> dt.datetime:
        if isinstance(at, dt.datetime):
            if at.tzinfo is None:
                raise InvalidHandoffInput("a datetime for business hours must carry a time zone")
            return at.astimezone(self.zone)
        return dt.datetime.fromtimestamp(at, tz=self.zone)


@dataclass(frozen=True)
class Availability:
    """Whether a person can answer now; if not, why and when the team is next open."""

    reason: Reason
    next_open: dt.datetime | None = None

    @property
    def open(self) -> bool:
        return self.reason == "open"


def availability(hours: BusinessHours, agents_online: int, at: dt.datetime | float) -> Availability:
    """Open when the team works at ``at`` and at least one agent is online.

    Example:
        >>> availability(BusinessHours(), 0, 1_790_000_000.0).reason in ("no_agent", "out_of_hours")
        True
    """
    if not hours.is_open(at):
        return Availability("out_of_hours", hours.next_open(at))
    if agents_online <= 0:
        return Availability("no_agent", None)
    return Availability("open")


def when(moment: dt.datetime, now: dt.datetime | float, language: Language = "en") -> str:
    """A friendly "today at 08:00" / "tomorrow at 08:00" / "on Monday at 08:00"."""
    today = (
        now.astimezone(moment.tzinfo).date()
        if isinstance(now, dt.datetime)
        else dt.datetime.fromtimestamp(now, tz=moment.tzinfo).date()
    )
    days = (moment.date() - today).days
    clock = f"{moment:%H:%M}"
    if days <= 0:
        return say("when.today", language, clock=clock)
    if days == 1:
        return say("when.tomorrow", language, clock=clock)
    if days < 7:
        return say(
            "when.weekday", language, day=say(f"day.{moment.weekday()}", language), clock=clock
        )
    date = formatting.day(moment, language, year=False)
    return say("when.date", language, date=date, clock=clock)


def _days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if "-" in part:
            first, last = (_day(p) for p in part.split("-", 1))
            span = range(first, last + 1) if first <= last else [*range(first, 7), *range(last + 1)]
            days.update(span)
        else:
            days.add(_day(part))
    if not days:
        raise InvalidHandoffInput(f"business days must name at least one day, got {text!r}")
    return frozenset(days)


def _day(name: str) -> int:
    key = name.strip()[:3].title()
    if key not in DAY_NAMES:
        raise InvalidHandoffInput(f"unknown day {name.strip()!r} (use Mon, Tue, ... Sun)")
    return DAY_NAMES.index(key)


def _hours(text: str) -> tuple[dt.time, dt.time]:
    try:
        first, last = (dt.time.fromisoformat(p.strip()) for p in text.split("-"))
    except ValueError:
        raise InvalidHandoffInput(
            f"business hours must look like 08:00-18:00, got {text!r}"
        ) from None
    if not first < last:
        raise InvalidHandoffInput(f"business hours must open before they close, got {text!r}")
    return first, last


def _holidays(text: str) -> frozenset[dt.date]:
    dates: set[dt.date] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            dates.add(dt.date.fromisoformat(part))
        except ValueError:
            raise InvalidHandoffInput(
                f"a holiday must be a date like 2026-12-25, got {part!r}"
            ) from None
    return frozenset(dates)
