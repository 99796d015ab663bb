"""How the action server logs: rasa-sdk's coloured format by default, JSON lines with
LOG_FORMAT=json.

In JSON every line logged while an action runs carries the conversation's tag, the same
short hash the gateway logs (so one conversation can be followed through both processes),
set by `conversation_logged` when the action server starts running an action, and copied by
asyncio into the worker threads the action starts. The message and any traceback pass
through `redact`.

The tag and the redaction are the gateway's own (contracts/redaction.py): both processes
log the same tag for a conversation and keep the same personal data out.

Example:
    >>> use_json_logs("INFO")
    >>> with conversation_logged(conversation_tag("web:abc")):
    ...     logging.getLogger("actions").info("hello")
    {"timestamp": "2025-06-02T09:14:03.120514+00:00", "level": "INFO", "logger": "actions",
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
