"""How the action server logs: rasa-sdk's coloured format by default, JSON lines with
LOG_FORMAT=json.

In JSON every line logged while an action runs carries the conversation's tag, the same
short hash the gateway logs, set by `contracts.logs.conversation_logged` when the action server
starts running an action (actions/metrics.py). The line, the tag and the redaction are the
gateway's own (contracts/logs.py, contracts/redaction.py).

Example:
    >>> use_json_logs("INFO")
    >>> with conversation_logged(conversation_tag("web:abc")):
    ...     logging.getLogger("actions").info("hello")
    {"timestamp": "2025-06-02T09:14:03.120514+00:00", "level": "INFO", "logger": "actions",
     "message": "hello", "conversation": "c-c607a5c811"}
"""

from __future__ import annotations

import logging

from contracts.logs import json_handler


def use_json_logs(level: str) -> None:
    """Every logger's lines as JSON on stderr at ``level`` (rasa-sdk's coloured format's level),
    Sanic's included, which rasa-sdk otherwise keeps to themselves."""
    logging.basicConfig(level=level, handlers=[json_handler()], force=True)
    for name in ("sanic.root", "sanic.error", "sanic.access"):
        logging.getLogger(name).propagate = True
