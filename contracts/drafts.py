"""An answer draft: the answer so far, posted by the action server to the gateway while it
grows, for the channels that show it.

actions/streaming.py posts ``{"conversation_id", "text"}`` as JSON to the gateway's
``POST /internal/stream`` with ``Authorization: Bearer <GATEWAY_INTERNAL_TOKEN>``;
connectors/streaming.py checks the token and reads the body with ``parse_draft``, which
says what was wrong with anything it cannot take.

Example:
    >>> parse_draft(draft("web:abc", "We refund returns within 5 days."))
    ({'conversation_id': 'web:abc', 'text': 'We refund returns within 5 days.'}, '')
    >>> parse_draft({"conversation_id": "web:abc", "text": ""})
    (None, 'text must be 1-4000 characters')
"""

from __future__ import annotations

from typing import Any, TypedDict

STREAM_PATH = "/internal/stream"
MAX_DRAFT_CHARS = 4000


class Draft(TypedDict):
    """The body of ``POST /internal/stream``."""

    conversation_id: str  # the conversation's sender id, e.g. ``web:<key>``
    text: str  # the whole answer so far, not the part added since the last draft


def draft(conversation_id: str, text: str) -> Draft:
    """The body that shows ``text`` as the conversation's draft."""
    return {"conversation_id": conversation_id, "text": text}


def authorization(token: str) -> str:
    """The ``Authorization`` header that carries the internal token."""
    return f"Bearer {token}"


def parse_draft(data: Any) -> tuple[Draft | None, str]:
    """Check a decoded body: the draft, or None and what was wrong with it."""
    conversation = data.get("conversation_id") if isinstance(data, dict) else None
    text = data.get("text") if isinstance(data, dict) else None
    if not isinstance(conversation, str) or not conversation:
        return None, "conversation_id must be a string"
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_DRAFT_CHARS:
        return None, f"text must be 1-{MAX_DRAFT_CHARS} characters"
    return draft(conversation, text), ""
