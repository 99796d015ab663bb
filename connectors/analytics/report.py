"""The figures of the analytics page, as typed values (``compute.compute_report`` makes them;
the JSON API, the CSV export and the charts read them).

Every rate is a fraction from 0 to 1, or None when there was nothing to divide by.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Count:
    """How many of something, and its share of the whole the list is about."""

    name: str
    count: int
    share: float | None


@dataclass(frozen=True)
class DayFigures:
    """One UTC day: conversations started, and how many of them reached a person."""

    day: str
    conversations: int
    handoffs: int


@dataclass(frozen=True)
class UnansweredQuestion:
    """Document questions the bot could not answer, alike enough to be one topic.

    ``text`` is the wording asked most often (personal data redacted), ``count`` how many
    times the topic was asked, ``examples`` up to three other wordings, ``last_asked`` when.
    """

    text: str
    count: int
    last_asked: float
    examples: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Csat:
    """Customers' ratings of handoffs: how many, the mean score, and how many of each 1-5."""

    ratings: int
    average: float | None
    distribution: dict[str, int]


@dataclass(frozen=True)
class FirstResponse:
    """How soon an agent first wrote after a handoff was opened: the median in seconds over
    the ``answered`` handoffs; ``unanswered`` had no agent reply (yet)."""

    answered: int
    unanswered: int
    median_seconds: float | None


@dataclass(frozen=True)
class AnalyticsReport:
    """Every figure for the conversations of one query (see docs/analytics.md).

    Example:
        >>> report = compute_report(events, facts, AnalyticsQuery(date(2026, 11, 1),
        ...                                                        date(2026, 11, 30)))
        >>> report.containment_rate
        0.72
    """

    start: str
    end: str
    channel: str | None
    conversations: int
    per_day: list[DayFigures]
    per_channel: list[Count]
    contained: int
    containment_rate: float | None
    with_handoff: int
    handoff_rate: float | None
    ended_unanswered: int
    handoffs: int
    handoff_reasons: list[Count]
    user_turns: int
    top_intents: list[Count]
    fallback_turns: int
    fallback_rate: float | None
    document_questions: int
    dont_know: int
    dont_know_rate: float | None
    unanswered_questions: list[UnansweredQuestion]
    csat: Csat
    first_response: FirstResponse

    def as_json(self) -> dict[str, Any]:
        """The report as the JSON API sends it."""
        return asdict(self)
