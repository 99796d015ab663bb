"""Drafts of a generated answer, sent to the gateway as it grows, for channels that show them.

The action server and the gateway meet over HTTP and share only the payload's shape
(contracts/drafts.py). The gateway accepts drafts at GATEWAY_STREAM_URL only with the
GATEWAY_INTERNAL_TOKEN the launcher gives both processes. A draft is a courtesy: when the
gateway is unreachable the final answer still arrives through Rasa, so failures are logged
once and the stream goes quiet.
"""

from __future__ import annotations

import logging

import httpx

from actions.settings import current_settings
from contracts.drafts import authorization, draft

logger = logging.getLogger(__name__)

STREAM_TIMEOUT = 1.0


class DraftStream:
    """Callable with the answer so far; posts it to the gateway for one conversation.

    Example:
        >>> stream = DraftStream("web:abc", "http://127.0.0.1:8080/internal/stream", "t0k")
        >>> stream("We refund returns within 5 working days.")
    """

    def __init__(
        self, conversation_id: str, url: str, token: str, client: httpx.Client | None = None
    ) -> None:
        self.conversation_id = conversation_id
        self.url = url
        self.token = token
        self.client = client or httpx.Client(timeout=STREAM_TIMEOUT)
        self.failed = False
        self.sent = 0

    def close(self) -> None:
        self.client.close()

    def __call__(self, text: str) -> None:
        if self.failed:
            return
        try:
            response = self.client.post(
                self.url,
                json=draft(self.conversation_id, text),
                headers={"Authorization": authorization(self.token)},
            )
            response.raise_for_status()
            self.sent += 1
        except httpx.HTTPError as error:
            self.failed = True
            logger.warning("answer drafts not shown (gateway stream: %s)", error)


def draft_stream(conversation_id: str) -> DraftStream | None:
    """A stream for the conversation when the launcher configured one (GATEWAY_STREAM_URL and
    GATEWAY_INTERNAL_TOKEN, read at start), else None."""
    settings = current_settings()
    if not settings.stream_url or not settings.stream_token:
        return None
    return DraftStream(conversation_id, settings.stream_url, settings.stream_token)
