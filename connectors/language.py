"""The language the gateway's own sentences take: handoff notices, ratings, errors.

The assistant's replies follow the ``language`` slot (actions/language.py). The gateway has
no slot: it writes in the language of the message being answered, or, when that message is
only ids and numbers, of the conversation's latest message from the user or the assistant
that has one (the assistant's last reply honours an explicit "please answer in English"),
or the client's hint (the browser's
or Telegram's language), else English.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from connectors.store import GatewayStore, HistoryEntry
from i18n.languages import DEFAULT_LANGUAGE, Language, as_language, detect_language

SPOKEN_BY = ("user", "bot")
# Transcript entries looked back at for a message that says nothing of its language.
LOOK_BACK = 6


def language_from(text: str, history: Iterable[HistoryEntry], hint: Any = None) -> Language:
    """The language for a reply to ``text`` after ``history`` (oldest first)."""
    detected = detect_language(text)
    if detected is not None:
        return detected
    for entry in reversed(list(history)):
        if entry["role"] not in SPOKEN_BY:
            continue  # the gateway's own system lines are no evidence
        detected = detect_language(entry["text"] or "")
        if detected is not None:
            return detected
    return as_language(hint) or DEFAULT_LANGUAGE


async def conversation_language(
    store: GatewayStore, conversation_id: str, *, text: str = "", hint: Any = None
) -> Language:
    """`language_from` for a stored conversation (reads the transcript only when needed)."""
    detected = detect_language(text)
    if detected is not None:
        return detected
    return language_from("", await store.history(conversation_id, limit=LOOK_BACK), hint)
