"""Answer drafts from the action server, shown live on channels that can show them.

The document action posts the guarded answer so far, a sentence at a time, to
``POST /internal/stream`` (the body: contracts/drafts.py) with the token the launcher gave
both processes (GATEWAY_INTERNAL_TOKEN). ``route_drafts`` hands each draft to the channel
its conversation id names (``web:…``, ``telegram:…``, ``slack:…``). The web chat shows it
as a growing draft that the final answer replaces; Telegram and Slack post it as a message,
edit it as the answer grows and edit the final answer into it (connectors/drafts.py).
Replicas sharing Redis pass a Telegram or Slack draft to the one answering its turn
(connectors/draft_relay.py).
A draft for another channel (REST clients), an unknown conversation or a Telegram or Slack
chat whose message is not being answered (on any replica) is accepted and dropped. Without a
token the route answers 404: nothing outside can post drafts.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.validation import MAX_BODY_BYTES, read_body
from contracts.drafts import STREAM_PATH, authorization, parse_draft
from contracts.redaction import redact

logger = logging.getLogger("connectors")

# Shows a draft to one conversation; returns whether its channel can show drafts.
DraftSink = Callable[[str, str], Awaitable[bool]]


class DraftChannel(Protocol):
    """A channel that can show drafts: its ``name`` is the prefix of its conversation ids."""

    name: str

    async def show_draft(self, conversation_id: str, text: str) -> bool: ...


def route_drafts(channels: Iterable[DraftChannel]) -> DraftSink:
    """One sink for all channels: a draft goes to the channel named before the first ``:``.

    Example:
        >>> sink = route_drafts([web, telegram])
        >>> await sink("telegram:42", "We refund returns")  # telegram.show_draft(...)
    """
    sinks = {channel.name: channel.show_draft for channel in channels}

    async def route(conversation_id: str, text: str) -> bool:
        sink = sinks.get(conversation_id.partition(":")[0])
        return await sink(conversation_id, text) if sink is not None else False

    return route


def stream_route(token: str, sink: DraftSink) -> Route:
    """The drafts endpoint, checking ``token`` before passing drafts to ``sink``.

    Example:
        >>> routes.append(stream_route(settings.internal_token, route_drafts([web, telegram])))
    """

    async def receive(request: Request) -> Response:
        if not token:
            return JSONResponse({"error": "answer drafts are disabled"}, status_code=404)
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), authorization(token).encode()):
            logger.warning("rejected an answer draft with a wrong token")
            return JSONResponse({"error": "wrong or missing token"}, status_code=403)
        body = await read_body(request, limit=MAX_BODY_BYTES)
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return JSONResponse({"error": "body must be JSON"}, status_code=400)
        draft, problem = parse_draft(data)
        if draft is None:
            return JSONResponse({"error": problem}, status_code=400)
        conversation = draft["conversation_id"]
        shown = await sink(conversation, draft["text"])
        logger.debug("draft for %s shown=%s", redact(conversation), shown)
        return Response(status_code=204)

    return Route(STREAM_PATH, receive, methods=["POST"])
