"""How the gateway logs: the human format by default, one JSON object a line with LOG_FORMAT=json.

In JSON every line logged while a turn runs carries that turn's conversation tag (the short
hash of `contracts.redaction.conversation_tag`, never the conversation id), set for the
turn's task by `conversation_logged` and copied by asyncio into whatever the turn starts, and
the message and any traceback pass through `contracts.redaction.redact`.

Example:
    >>> configure_logging("INFO", "json")
    >>> with conversation_logged(conversation_tag("web:abc")):
    ...     logging.getLogger("connectors").info("hello")
    {"timestamp": "2025-06-02T09:14:03.120514+00:00", "level": "INFO", "logger": "connectors",
     "message": "hello", "conversation": "c-c607a5c811"}
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal, TextIO

from pythonjsonlogger.json import JsonFormatter

from contracts.redaction import redact

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Fields of a JSON line that never hold personal data; every other string is redacted.
_SAFE_FIELDS = frozenset({"timestamp", "level", "logger", "conversation"})

_conversation: ContextVar[str | None] = ContextVar("log_conversation", default=None)


@contextmanager
def conversation_logged(tag: str) -> Iterator[None]:
    """Tag the lines logged inside the block (and by tasks and threads it starts) with ``tag``.

    ``tag`` must already be a `conversation_tag`: it is written as it is.
    """
    token = _conversation.set(tag)
    try:
        yield
    finally:
        _conversation.reset(token)


class ConversationFilter(logging.Filter):
    """Puts the current conversation tag (or None outside a turn) on each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.conversation = _conversation.get()
        return True


class RedactingJsonFormatter(JsonFormatter):
    """One JSON object a line: timestamp, level, logger, message, conversation (in a turn),
    exc_info (with a traceback); strings other than the first four and the tag redacted."""

    def __init__(self) -> None:
        super().__init__(
            ["levelname", "name", "message"],
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp=True,
            json_ensure_ascii=False,
        )

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        # uvicorn repeats the message with terminal colours; the plain one is enough.
        log_data.pop("color_message", None)
        if log_data.get("conversation") is None:
            log_data.pop("conversation", None)
        # The time first, as in the text format, so the lines read well in a terminal too.
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


def configure_logging(level: str, fmt: LogFormat) -> None:
    """Log the gateway's own lines at ``level``, everyone else's at WARNING, in ``fmt``.

    Only the gateway's logger follows LOG_LEVEL: httpx logs every request URL at INFO.
    """
    if fmt == "json":
        logging.basicConfig(level=logging.WARNING, handlers=[json_handler()], force=True)
    else:
        logging.basicConfig(level=logging.WARNING, format=TEXT_FORMAT)
    logging.getLogger("connectors").setLevel(level)
