"""A chart: the custom message that carries a PNG chart from the action server to the
channels that show it.

actions/charts.py sends ``{"chart": {"title", "alt", "png"}}`` (``png`` in base64) within
the limits below; connectors/charts.py checks and decodes it, trusting none of it, and
drops a chart over the same limits.
"""

from __future__ import annotations

from typing import TypedDict

# The key of the custom message that carries it.
CHART = "chart"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_ENCODED_CHARS = 400_000  # base64 characters; the decoded PNG is at most 300,000 bytes
MAX_TITLE_CHARS = 150
MAX_ALT_CHARS = 1000


class ChartPayload(TypedDict):
    """One chart: a one-line title, what it shows in words, and the PNG in base64."""

    title: str
    alt: str
    png: str


class ChartMessage(TypedDict):
    """The custom message that carries a chart."""

    chart: ChartPayload
