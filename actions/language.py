"""The conversation's language: detected on every message, remembered, switched on request.

Rasa runs ``action_validate_slot_mappings`` after every user message (its
``action_extract_slots``), before any response is chosen, so the ``language`` slot is right
for the domain's conditional responses and for every action of the turn (the action server
answers in it: `actions.metrics.ObservedExecutor`).

- "please answer in English" / "请用中文回答" (intent ``switch_language`` with a ``language``
  entity) sets the language and keeps it (``language_chosen``) whatever the user writes next,
  until they ask for another.
- Otherwise each message's own language (`i18n.languages.detect_language`) becomes the
  conversation's; a message of only ids and numbers ("SO-100123") keeps it.
- Before any message says, the gateway's ``language`` hint (the browser's or Telegram's
  language; not trusted for anything else) decides, else English.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker, ValidationAction
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.verification import latest_metadata
from contracts.metadata import LANGUAGE
from i18n.languages import DEFAULT_LANGUAGE, Language, as_language, detect_language

SWITCH_INTENT = "switch_language"


def requested_language(tracker: Tracker) -> Language | None:
    """The language the latest message asks the assistant to answer in, if it asks."""
    message = tracker.latest_message or {}
    if (message.get("intent") or {}).get("name") != SWITCH_INTENT:
        return None
    for entity in message.get("entities") or []:
        if entity.get("entity") == "language":
            chosen = as_language(entity.get("value"))
            if chosen is not None:
                return chosen
    # "answer in the other language" without naming it: the one not spoken now.
    spoken = as_language(tracker.get_slot("language")) or DEFAULT_LANGUAGE
    return "zh" if spoken == "en" else "en"


def conversation_language(tracker: Tracker) -> tuple[Language, Language | None]:
    """The language to answer this turn in, and the one the user chose (kept), if any."""
    requested = requested_language(tracker)
    if requested is not None:
        return requested, requested
    chosen = as_language(tracker.get_slot("language_chosen"))
    if chosen is not None:
        return chosen, chosen
    detected = detect_language(str((tracker.latest_message or {}).get("text") or ""))
    if detected is not None:
        return detected, None
    remembered = as_language(tracker.get_slot("language"))
    hinted = as_language(latest_metadata(tracker).get(LANGUAGE))
    return remembered or hinted or DEFAULT_LANGUAGE, None


class ValidateSlotMappings(ValidationAction):
    """Fills the ``language`` and ``language_chosen`` slots after every user message."""

    async def extract_language(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        language, _ = conversation_language(tracker)
        return {"language": language}

    async def extract_language_chosen(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        _, chosen = conversation_language(tracker)
        return {"language_chosen": chosen} if chosen is not None else {}

    async def validate_language(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"language": as_language(value) or DEFAULT_LANGUAGE}

    async def validate_language_chosen(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"language_chosen": as_language(value)}
