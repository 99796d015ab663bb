"""The analytics report as CSV: one row per figure, ``section,name,value``, for a spreadsheet.

Cells a spreadsheet would take for a formula (a customer's question starting with ``=``,
``+``, ``-`` or ``@``) are prefixed with ``'``, so opening the file runs nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from connectors.analytics.report import AnalyticsReport

HEADER = ("section", "name", "value")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_SUMMARY = (
    "conversations", "contained", "containment_rate", "with_handoff", "handoff_rate",
    "ended_unanswered", "handoffs", "user_turns", "fallback_turns", "fallback_rate",
    "document_questions", "dont_know", "dont_know_rate",
)  # fmt: skip

Row = tuple[str, str, str]


def report_rows(report: AnalyticsReport) -> Iterator[Row]:
    """Every figure of ``report`` as ``(section, name, value)``; rates as fractions, empty
    where there was nothing to count.

    Example:
        >>> next(report_rows(report))
        ('range', 'from', '2026-11-01')
    """
    yield "range", "from", report.start
    yield "range", "to", report.end
    yield "range", "channel", report.channel or "all"
    for name in _SUMMARY:
        yield "summary", name, _value(getattr(report, name))
    for day in report.per_day:
        yield "conversations_per_day", day.day, str(day.conversations)
    for day in report.per_day:
        yield "handoffs_per_day", day.day, str(day.handoffs)
    for section, counts in (
        ("conversations_per_channel", report.per_channel),
        ("handoff_reasons", report.handoff_reasons),
        ("top_intents", report.top_intents),
    ):
        for item in counts:
            yield section, item.name, str(item.count)
    for question in report.unanswered_questions:
        yield "unanswered_questions", question.text, str(question.count)
    yield "csat", "ratings", str(report.csat.ratings)
    yield "csat", "average", _value(report.csat.average)
    for score, rated in report.csat.distribution.items():
        yield "csat_distribution", score, str(rated)
    response = report.first_response
    yield "first_response", "answered", str(response.answered)
    yield "first_response", "unanswered", str(response.unanswered)
    yield "first_response", "median_seconds", _value(response.median_seconds)


def report_csv(report: AnalyticsReport) -> str:
    """``report`` as a CSV document with a header row (RFC 4180, CRLF line ends)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for row in report_rows(report):
        writer.writerow([_safe(cell) for cell in row])
    return out.getvalue()


def _value(value: float | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") or "0"
    return str(value)


def _safe(cell: str) -> str:
    """A cell a spreadsheet shows as text, never evaluates (numbers, dates kept as they are)."""
    if cell.startswith(_FORMULA_STARTS) and not _number(cell):
        return "'" + cell
    return cell


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
