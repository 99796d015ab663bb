"""The analytics page's charts as small SVG documents, built as text (no plotting library).

They are served as images (``<img src=".../plot.svg?figure=...">``): nothing in them runs,
every label is XML-escaped, and they need nothing the console's Content-Security-Policy
(``img-src 'self'``) does not allow.

Example:
    >>> svg = chart(report, "per_day")
    >>> svg.startswith("<svg")
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from xml.sax.saxutils import escape

from connectors.analytics.report import AnalyticsReport, DayFigures

FIGURES = ("per_day", "per_channel", "top_intents", "handoff_reasons", "csat")
WIDTH = 640
BAR_HEIGHT = 22
LABEL_WIDTH = 190
TOP = 34
BOTTOM = 30
ACCENT = "#0b5d4b"
LIGHT = "#9cc9bd"
INK = "#1b2623"
MUTED = "#5d6b67"
_FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def chart(report: AnalyticsReport, figure: str) -> str:
    """The SVG of one of FIGURES for ``report``.

    Raises:
        ValueError: ``figure`` is not one of FIGURES.
    """
    makers: dict[str, Callable[[], str]] = {
        "per_day": lambda: day_chart(
            "Conversations per day (dark: handed to a person)", report.per_day
        ),
        "per_channel": lambda: bar_chart(
            "Conversations per channel", [(c.name, c.count) for c in report.per_channel]
        ),
        "top_intents": lambda: bar_chart(
            "Top intents (user messages)", [(c.name, c.count) for c in report.top_intents]
        ),
        "handoff_reasons": lambda: bar_chart(
            "Handoff reasons", [(c.name, c.count) for c in report.handoff_reasons]
        ),
        "csat": lambda: bar_chart(
            "CSAT ratings",
            [(f"{score} ★", n) for score, n in report.csat.distribution.items()],
            keep_empty=True,
        ),
    }
    if figure not in makers:
        raise ValueError(f"figure must be one of {', '.join(FIGURES)}, got {figure!r}")
    return makers[figure]()


def bar_chart(title: str, bars: Sequence[tuple[str, int]], *, keep_empty: bool = False) -> str:
    """Horizontal bars, one per ``(label, value)``, in the order given, each with its value."""
    if not bars or (not keep_empty and not any(value for _, value in bars)):
        return _empty(title)
    height = TOP + len(bars) * BAR_HEIGHT + 10
    most = max(value for _, value in bars) or 1
    room = WIDTH - LABEL_WIDTH - 60
    parts = [_open(height), _title(title)]
    for i, (label, value) in enumerate(bars):
        y = TOP + i * BAR_HEIGHT
        length = room * value / most
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 15}" text-anchor="end" fill="{INK}" {_FONT}>'
            f"{escape(_cut(label))}</text>"
            f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{length:.1f}" height="{BAR_HEIGHT - 6}" '
            f'fill="{ACCENT}"><title>{escape(label)}: {value}</title></rect>'
            f'<text x="{LABEL_WIDTH + length + 6:.1f}" y="{y + 15}" fill="{MUTED}" {_FONT}>'
            f"{value}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def day_chart(title: str, days: Sequence[DayFigures]) -> str:
    """Vertical bars per day: conversations, with the ones handed to a person over them."""
    if not days or not any(day.conversations for day in days):
        return _empty(title)
    height = 240
    left, right = 40, 10
    plot_height = height - TOP - BOTTOM
    slot = (WIDTH - left - right) / len(days)
    most = max(day.conversations for day in days) or 1
    base = TOP + plot_height
    parts = [_open(height), _title(title)]
    parts.append(
        f'<text x="{left - 6}" y="{TOP + 10}" text-anchor="end" fill="{MUTED}" {_FONT}>'
        f"{most}</text>"
        f'<line x1="{left}" y1="{base}" x2="{WIDTH - right}" y2="{base}" stroke="{MUTED}"/>'
    )
    label_every = max(1, round(len(days) / 8))
    for i, day in enumerate(days):
        x = left + i * slot
        width = max(slot * 0.8, 1.0)
        total = plot_height * day.conversations / most
        handed = plot_height * day.handoffs / most
        tip = escape(f"{day.day}: {day.conversations} conversations, {day.handoffs} handoffs")
        parts.append(
            f"<g><title>{tip}</title>"
            f'<rect x="{x:.1f}" y="{base - total:.1f}" width="{width:.1f}" height="{total:.1f}" '
            f'fill="{LIGHT}"/>'
            f'<rect x="{x:.1f}" y="{base - handed:.1f}" width="{width:.1f}" '
            f'height="{handed:.1f}" fill="{ACCENT}"/></g>'
        )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{base + 16}" fill="{MUTED}" {_FONT}>'
                f"{escape(day.day[5:])}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _open(height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img">'
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>'
    )


def _title(title: str) -> str:
    return (
        f'<text x="10" y="20" fill="{INK}" font-family="system-ui, sans-serif" font-size="14" '
        f'font-weight="600">{escape(title)}</text>'
    )


def _empty(title: str) -> str:
    height = 80
    return (
        f"{_open(height)}{_title(title)}"
        f'<text x="10" y="55" fill="{MUTED}" {_FONT}>Nothing in this range.</text></svg>'
    )


def _cut(label: str, limit: int = 28) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
