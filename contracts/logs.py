"""The JSON log line both the gateway and the action server write with LOG_FORMAT=json: the
time first, level, logger, message, and the conversation's tag on every line logged during a
turn or an action run (`conversation_logged`, copied by asyncio into whatever the turn
starts); every other string redacted (contracts/redaction.py). One conversation can be
followed through both processes' logs by its tag.

Example:
    >>> logging.basicConfig(handlers=[json_handler()], level="INFO", force=True)
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
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

from contracts.redaction import redact

# Fields of a JSON line that never hold personal data; every other string is redacted.
_SAFE_FIELDS = frozenset({"timestamp", "level", "logger", "conversation"})

_conversation: ContextVar[str | None] = ContextVar("log_conversation", default=None)


@contextmanager
def conversation_logged(tag: str | None) -> Iterator[None]:
    """Tag the lines logged inside the block (and by tasks and threads it starts) with ``tag``,
    a `conversation_tag` written as it is (None: no conversation)."""
    token = _conversation.set(tag)
    try:
        yield
    finally:
        _conversation.reset(token)


class ConversationFilter(logging.Filter):
    """Puts the current conversation tag (or None outside a turn or an action) on each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.conversation = _conversation.get()
        return True


class RedactingJsonFormatter(JsonFormatter):
    """One JSON object a line: timestamp, level, logger, message, conversation (in a turn or
    an action), exc_info (with a traceback); strings other than the first four and the tag
    redacted."""

    def __init__(self) -> None:
        super().__init__(
            ["levelname", "name", "message"],
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp=True,
            json_ensure_ascii=False,
        )

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        # uvicorn (the gateway) repeats the message with terminal colours; the plain one is enough.
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
