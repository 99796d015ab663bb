"""Answer drafts from the action server, shown live on channels that can show them.

The document action posts the guarded answer so far, a sentence at a time, to
``POST /internal/stream`` with the token the launcher gave both processes
(GATEWAY_INTERNAL_TOKEN). The web chat shows it as a growing draft that the final answer
replaces; other channels get only the final answer, so a draft for them is accepted and
dropped. Without a token the route answers 404: nothing outside can post drafts.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.redaction import redact
from connectors.validation import MAX_BODY_BYTES, read_body

logger = logging.getLogger("connectors")

STREAM_PATH = "/internal/stream"
MAX_DRAFT_CHARS = 4000

# Shows a draft to one conversation; returns whether its channel can show drafts.
DraftSink = Callable[[str, str], Awaitable[bool]]


def stream_route(token: str, sink: DraftSink) -> Route:
    """The drafts endpoint, checking ``token`` before passing drafts to ``sink``.

    Example:
        >>> routes.append(stream_route(settings.internal_token, web.show_draft))
    """

    async def receive(request: Request) -> Response:
        if not token:
            return JSONResponse({"error": "answer drafts are disabled"}, status_code=404)
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            logger.warning("rejected an answer draft with a wrong token")
            return JSONResponse({"error": "wrong or missing token"}, status_code=403)
        body = await read_body(request, limit=MAX_BODY_BYTES)
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return JSONResponse({"error": "body must be JSON"}, status_code=400)
        conversation = data.get("conversation_id") if isinstance(data, dict) else None
        text = data.get("text") if isinstance(data, dict) else None
        if not isinstance(conversation, str) or not conversation:
            return JSONResponse({"error": "conversation_id must be a string"}, status_code=400)
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_DRAFT_CHARS:
            return JSONResponse(
                {"error": f"text must be 1-{MAX_DRAFT_CHARS} characters"}, status_code=400
            )
        shown = await sink(conversation, text)
        logger.debug("draft for %s shown=%s", redact(conversation), shown)
        return Response(status_code=204)

    return Route(STREAM_PATH, receive, methods=["POST"])
