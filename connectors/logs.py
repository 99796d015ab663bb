"""How the gateway logs: the human format by default, one JSON object a line with LOG_FORMAT=json.

In JSON every line logged while a turn runs carries that turn's conversation tag (the short
hash of `contracts.redaction.conversation_tag`, never the conversation id), set for the
turn's task by `contracts.logs.conversation_logged`, and the message and any traceback pass
through `contracts.redaction.redact`: the line the action server writes too (contracts/logs.py).

Example:
    >>> configure_logging("INFO", "json")
    >>> with conversation_logged(conversation_tag("web:abc")):
    ...     logging.getLogger("connectors").info("hello")
    {"timestamp": "2025-06-02T09:14:03.120514+00:00", "level": "INFO", "logger": "connectors",
     "message": "hello", "conversation": "c-c607a5c811"}
"""

from __future__ import annotations

import logging
from typing import Literal

from contracts.logs import json_handler

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str, fmt: LogFormat) -> None:
    """Log the gateway's own lines at ``level``, everyone else's at WARNING, in ``fmt``.

    Only the gateway's logger follows LOG_LEVEL: httpx logs every request URL at INFO.
    """
    if fmt == "json":
        logging.basicConfig(level=logging.WARNING, handlers=[json_handler()], force=True)
    else:
        logging.basicConfig(level=logging.WARNING, format=TEXT_FORMAT)
    logging.getLogger("connectors").setLevel(level)
