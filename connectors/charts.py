"""Charts in the assistant's replies: the action server's ``custom`` chart payload, checked and
decoded for the channels that show it (Slack uploads it, the console's Ask panel shows it).

The payload (actions/charts.py writes it; contracts/charts.py has its type and limits)::

    {"chart": {"title": str, "alt": str, "png": <base64 of a PNG>}}

Nothing in it is trusted: a payload that is not an object, whose PNG is not base64, does not
start with the PNG signature or is over the size cap, or that has no title, is dropped with
a log line and the rest of the reply goes on. Title and alt text are cleaned (no control or
formatting characters, one line) and cut to a length. The transcript keeps a chart as the
line ``[chart] <title>`` and a digest of the image, never the image itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import unicodedata
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

from connectors.messages import OutgoingMessage, RestMessage, rest_message
from connectors.validation import clean_text
from contracts.charts import CHART as CHART_KEY
from contracts.charts import MAX_ALT_CHARS, MAX_ENCODED_CHARS, MAX_TITLE_CHARS, PNG_SIGNATURE

logger = logging.getLogger("connectors")


class ChartJson(TypedDict):
    """A chart as the console's JSON: ``src`` is a ``data:image/png;base64,…`` URL."""

    title: str
    alt: str
    digest: str
    src: str


class HistoryChart(TypedDict):
    """A chart as the transcript keeps it: what it was, not the picture."""

    title: str
    alt: str
    digest: str


class ChartRestMessage(RestMessage):
    """A reply as the console's JSON: the REST reply, with its chart checked and decoded."""

    chart: NotRequired[ChartJson]


@dataclass(frozen=True)
class Chart:
    """A checked chart: a PNG with a one-line title and a text alternative.

    Example:
        >>> chart = chart_of(OutgoingMessage(custom={"chart": payload}))
        >>> chart.title, chart.png[:8] == PNG_SIGNATURE
        ('WID-1001: sales and stock', True)
    """

    title: str
    alt: str
    png: bytes = field(repr=False)

    @property
    def digest(self) -> str:
        """A short hash of the image: the transcript's reference to it."""
        return hashlib.sha256(self.png).hexdigest()[:16]

    @property
    def line(self) -> str:
        """How the transcript reads it: ``[chart] <title>``."""
        return f"[chart] {self.title}"

    def json(self) -> ChartJson:
        """The chart as the console's JSON, the image as a data URL."""
        src = "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")
        return {"title": self.title, "alt": self.alt, "digest": self.digest, "src": src}

    def history(self) -> HistoryChart:
        return {"title": self.title, "alt": self.alt, "digest": self.digest}


def chart_of(message: OutgoingMessage, *, log: bool = True) -> Chart | None:
    """The reply's chart, or None when it has none or it is malformed (logged, with the
    reason, unless ``log`` is False: a second reader of the same reply).

    Example:
        >>> chart_of(OutgoingMessage(text="hi")) is None
        True
    """
    custom = message.custom
    if not custom or CHART_KEY not in custom:
        return None
    chart, problem = parse_chart(custom[CHART_KEY])
    if chart is None and log:
        logger.warning("chart dropped from a reply: %s", problem)
    return chart


def parse_chart(payload: Any) -> tuple[Chart | None, str]:
    """Check and decode one chart payload: the chart, or None and what was wrong with it.

    Example:
        >>> parse_chart({"title": "x", "png": "bm90IGEgcG5n"})
        (None, 'png is not a PNG image')
    """
    if not isinstance(payload, dict):
        return None, f"chart must be an object, got {type(payload).__name__}"
    title, alt, encoded = payload.get("title"), payload.get("alt", ""), payload.get("png")
    if not isinstance(title, str) or not isinstance(alt, str):
        return None, "title and alt must be strings"
    title = one_line(title, MAX_TITLE_CHARS)
    if not title:
        return None, "title must not be empty"
    if not isinstance(encoded, str):
        return None, "png must be a base64 string"
    if len(encoded) > MAX_ENCODED_CHARS:
        return None, f"png is {len(encoded)} base64 characters, the limit is {MAX_ENCODED_CHARS}"
    try:
        png = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None, "png is not valid base64"
    if not png.startswith(PNG_SIGNATURE):
        return None, "png is not a PNG image"
    return Chart(title, one_line(alt, MAX_ALT_CHARS) or title, png), ""


def one_line(text: str, limit: int) -> str:
    """``text`` as one clean line of at most ``limit`` characters (cut with "...").

    Example:
        >>> one_line("Stock\\n of\\u202e WID-1001 ", 12)
        'Stock of...'
    """
    text = clean_text(text)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def transcript_text(message: OutgoingMessage, chart: Chart | None) -> str | None:
    """The reply's text as the transcript keeps it: a chart adds the line ``[chart] <title>``.

    Example:
        >>> transcript_text(OutgoingMessage(), chart)
        '[chart] WID-1001: sales and stock'
    """
    if chart is None:
        return message.text
    return f"{message.text}\n{chart.line}" if message.text else chart.line


def with_chart(message: OutgoingMessage) -> ChartRestMessage:
    """One reply as the console's JSON: the REST reply, its chart (when well-formed) under
    ``chart`` as a data URL, and the raw payload left out of ``custom``.

    Example:
        >>> with_chart(OutgoingMessage(custom={"chart": payload}))["chart"]["src"][:22]
        'data:image/png;base64,'
    """
    rest = rest_message(message)
    shown: ChartRestMessage = {"text": rest["text"], "buttons": rest["buttons"]}
    if "image" in rest:
        shown["image"] = rest["image"]
    custom = {k: v for k, v in (message.custom or {}).items() if k != CHART_KEY}
    if custom:
        shown["custom"] = custom
    chart = chart_of(message)
    if chart is not None:
        shown["chart"] = chart.json()
    return shown
