"""How the action server logs: rasa-sdk's coloured format by default, JSON lines with
LOG_FORMAT=json.

In JSON every line logged while an action runs carries the conversation's tag, the same
short hash the gateway logs (so one conversation can be followed through both processes),
set by `conversation_logged` when the action server starts running an action, and copied by
asyncio into the worker threads the action starts. The message and any traceback pass
through `redact`.

The action server never imports the gateway (connectors/), and no package both may import
is about logs, so the tag and the redaction live here as well as in connectors/redaction.py;
tests/actions/test_observability.py checks that the two give the same results.

Example:
    >>> use_json_logs("INFO")
    >>> with conversation_logged(conversation_tag("web:abc")):
    ...     logging.getLogger("actions").info("hello")
    {"timestamp": "2025-06-02T09:14:03.120514+00:00", "level": "INFO", "logger": "actions",
     "message": "hello", "conversation": "c-c607a5c811"}
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

# Fields of a JSON line that never hold personal data; every other string is redacted.
_SAFE_FIELDS = frozenset({"timestamp", "level", "logger", "conversation"})

_conversation: ContextVar[str | None] = ContextVar("log_conversation", default=None)

_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")

# A run of digits with common separators. Whether it is a phone number is decided in
# _phone_or_keep, so that order numbers, amounts and ISO dates survive.
_DIGIT_RUN = re.compile(r"(?<![\w+-])\+?\(?\d[\d ().-]{5,}\d(?![\w-])")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

_US_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|"
    "NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR"
)

_POSTCODES = [
    # United Kingdom: "SW1A 1AA", "M1 1AE", "EC1A1BB".
    re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b", re.IGNORECASE),
    # Canada: "K1A 0B1".
    re.compile(r"\b[A-Z]\d[A-Z] ?\d[A-Z]\d\b", re.IGNORECASE),
    # Netherlands: "1012 AB".
    re.compile(r"\b[1-9]\d{3} ?[A-Z]{2}\b"),
    # United States ZIP+4: "90210-1234".
    re.compile(r"\b\d{5}-\d{4}\b"),
    # Bare 4-5 digit codes only where the context says they are postcodes, since order
    # and invoice numbers look the same: "postcode 10115", "zip: 90210".
    re.compile(r"\b(?:post ?code|postal code|zip(?: code)?|plz)\b:?\s*\d{4,5}\b", re.IGNORECASE),
    # A US state code followed by a ZIP: "TX 78701" (case-sensitive, so "no 12345" survives).
    re.compile(rf"\b(?:{_US_STATES}),? \d{{5}}\b"),
]


def redact(text: str) -> str:
    """Replace emails, phone numbers and postcodes in ``text`` with placeholders.

    The gateway's rules (connectors/redaction.py): a false positive costs a little
    debugging context, a false negative leaks personal data.

    Example:
        >>> redact("mail jo@example.com or call +44 20 7946 0958")
        'mail [email] or call [phone]'
    """
    text = _EMAIL.sub("[email]", text)
    # Postcodes before phones, so a ZIP+4 is not mistaken for a phone number.
    for pattern in _POSTCODES:
        text = pattern.sub("[postcode]", text)
    return _DIGIT_RUN.sub(_phone_or_keep, text)


def conversation_tag(conversation_id: str) -> str:
    """A short stable stand-in for a conversation id (Rasa's sender id) in log lines: the
    gateway's tag for the same conversation.

    Example:
        >>> conversation_tag("web:abc")
        'c-c607a5c811'
    """
    digest = hashlib.sha256(conversation_id.encode("utf-8", "surrogatepass")).hexdigest()
    return "c-" + digest[:10]


@contextmanager
def conversation_logged(tag: str | None) -> Iterator[None]:
    """Tag the lines logged inside the block (and by tasks and threads it starts) with ``tag``,
    a `conversation_tag` (None: no conversation)."""
    token = _conversation.set(tag)
    try:
        yield
    finally:
        _conversation.reset(token)


class ConversationFilter(logging.Filter):
    """Puts the current conversation tag (or None outside an action) on each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.conversation = _conversation.get()
        return True


class RedactingJsonFormatter(JsonFormatter):
    """One JSON object a line: timestamp, level, logger, message, conversation (in an action),
    exc_info (with a traceback); strings other than the first four and the tag redacted."""

    def __init__(self) -> None:
        super().__init__(
            ["levelname", "name", "message"],
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp=True,
            json_ensure_ascii=False,
        )

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        if log_data.get("conversation") is None:
            log_data.pop("conversation", None)
        ordered = {"timestamp": log_data.pop("timestamp", None), **log_data}
        return {
            key: redact(value) if isinstance(value, str) and key not in _SAFE_FIELDS else value
            for key, value in ordered.items()
        }


def json_handler(stream: TextIO | None = None) -> logging.Handler:
    """A handler writing redacted JSON lines with the conversation tag to ``stream`` (stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingJsonFormatter())
    handler.addFilter(ConversationFilter())
    return handler


def use_json_logs(level: str) -> None:
    """Every logger's lines as JSON on stderr at ``level`` (rasa-sdk's coloured format's level),
    Sanic's included, which rasa-sdk otherwise keeps to themselves."""
    logging.basicConfig(level=level, handlers=[json_handler()], force=True)
    for name in ("sanic.root", "sanic.error", "sanic.access"):
        logging.getLogger(name).propagate = True


def _phone_or_keep(match: re.Match[str]) -> str:
    candidate = match.group()
    digits = sum(char.isdigit() for char in candidate)
    if _ISO_DATE.fullmatch(candidate) or digits > 15:
        return candidate
    # Seven digits is a local number only when written like one ("555-1234", "+1 555 1234");
    # a bare seven-digit run is more likely an order number.
    written_as_phone = candidate.startswith("+") or not candidate.isdigit()
    if digits >= 9 or (written_as_phone and digits >= 7):
        return "[phone]"
    return candidate
