"""Asking for a person and repeated fallbacks: the handoff request the gateway acts on."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import documents
from actions.documents import ActionAnswerDocumentQuestion, Threshold
from actions.handoff import (
    LAST_FALLBACK_SLOT,
    ActionDefaultFallback,
    ActionHandoff,
    ActionOutOfScope,
    user_turn,
)
from i18n.texts import say
from tests.actions.conftest import slot_events, tracker, verified


def conversation(
    turns: int,
    *,
    text: str = "",
    intent: str = "nlu_fallback",
    confidence: float | None = 0.21,
    slots: dict[str, Any] | None = None,
    last_fallback_turn: int | None = None,
) -> Tracker:
    """A tracker whose session has had ``turns`` user messages, the last one ``text``."""
    state = tracker(
        {**(slots or {}), LAST_FALLBACK_SLOT: last_fallback_turn}, text=text, intent=intent
    )
    intent_data: dict[str, Any] = {"name": intent}
    if confidence is not None:
        intent_data["confidence"] = confidence
    state.latest_message["intent"] = intent_data
    earlier = [{"event": "user", "text": f"message {n}"} for n in range(turns - 1)]
    state.events[:0] = [{"event": "session_started"}, *earlier]
    return state


def test_user_turns_are_counted_within_the_session() -> None:
    state = conversation(3)
    state.events[:0] = [{"event": "user", "text": "before the session"}]

    assert user_turn(state) == 3


async def test_asking_for_a_person_requests_a_handoff_with_the_confidence_and_slots(
    domain: dict[str, Any],
) -> None:
    dispatcher = CollectingDispatcher()
    state = conversation(
        2,
        text="get me a human, the bot doesn't understand",
        intent="request_human",
        confidence=0.934,
        slots={
            "order_number": "SO-100123",
            **verified(42, "postcode", records=("SO-100123",)),
            "sku": None,
        },
    )

    events = await ActionHandoff().run(dispatcher, state, domain)

    [message] = dispatcher.messages
    assert message["text"] == say("handoff.requested", "en")
    assert message["custom"] == {
        "handoff": {
            "rule": "user_request",
            "score": 0.934,
            "detail": 'asked for a person: "get me a human, the bot doesn\'t understand"',
            "slots": {
                "verified_customer_id": 42,
                "verified_records": ["SO-100123"],
                "order_number": "SO-100123",
            },
        }
    }
    slots = slot_events(events)
    assert slots["order_number"] is None and slots[LAST_FALLBACK_SLOT] is None
    assert "verification" not in slots  # the conversation stays verified


async def test_a_button_click_has_no_confidence(domain: dict[str, Any]) -> None:
    dispatcher = CollectingDispatcher()

    await ActionHandoff().run(
        dispatcher, conversation(1, text="/request_human", confidence=None), domain
    )

    assert dispatcher.messages[0]["custom"]["handoff"]["score"] is None


async def test_first_fallback_says_sorry_and_remembers_the_turn(domain: dict[str, Any]) -> None:
    dispatcher = CollectingDispatcher()

    events = await ActionDefaultFallback().run(dispatcher, conversation(4), domain)

    assert [m["response"] for m in dispatcher.messages] == ["utter_default"]
    assert events[0]["event"] == "rewind"
    assert slot_events(events) == {LAST_FALLBACK_SLOT: 4}


async def test_second_fallback_in_a_row_requests_a_handoff(domain: dict[str, Any]) -> None:
    dispatcher = CollectingDispatcher()
    state = conversation(5, confidence=0.18, last_fallback_turn=4, slots={"sku": "WID-1001"})

    events = await ActionDefaultFallback().run(dispatcher, state, domain)

    [message] = dispatcher.messages
    assert message["text"] == say("handoff.after_fallback", "en")
    request = message["custom"]["handoff"]
    assert (request["rule"], request["score"], request["slots"]) == (
        "repeated_fallback",
        0.18,
        {"sku": "WID-1001"},
    )
    assert "2 turns in a row" in request["detail"] and "nlu_fallback 0.18" in request["detail"]
    assert slot_events(events) == {LAST_FALLBACK_SLOT: None}


async def test_a_fallback_after_an_answered_turn_starts_counting_again(
    domain: dict[str, Any],
) -> None:
    dispatcher = CollectingDispatcher()

    events = await ActionDefaultFallback().run(
        dispatcher, conversation(6, last_fallback_turn=4), domain
    )

    assert [m["response"] for m in dispatcher.messages] == ["utter_default"]
    assert slot_events(events) == {LAST_FALLBACK_SLOT: 6}


@pytest.fixture()
def nothing_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "_search", lambda question: ([], Threshold(0.40)))


@pytest.mark.usefixtures("nothing_found")
async def test_the_document_refusal_counts_as_a_fallback(domain: dict[str, Any]) -> None:
    first, second = CollectingDispatcher(), CollectingDispatcher()
    action = ActionAnswerDocumentQuestion()

    events = await action.run(first, conversation(2, text="airspeed of a swallow?"), domain)
    turn = slot_events(events)[LAST_FALLBACK_SLOT]
    await action.run(
        second, conversation(3, text="and of a coconut?", last_fallback_turn=turn), domain
    )

    assert [m["response"] for m in first.messages] == ["utter_document_unknown"]
    assert second.messages[0]["custom"]["handoff"]["rule"] == "repeated_fallback"


async def test_the_domain_declares_the_handoff_actions_and_slots(domain: dict[str, Any]) -> None:
    assert {LAST_FALLBACK_SLOT, "handoff_note"} <= set(domain["slots"])
    assert "utter_request_human" not in domain["responses"]


async def test_out_of_scope_twice_in_a_row_requests_a_handoff(domain: dict[str, Any]) -> None:
    first, second = CollectingDispatcher(), CollectingDispatcher()
    action = ActionOutOfScope()

    events = await action.run(
        first, conversation(3, intent="out_of_scope", confidence=0.48), domain
    )
    await action.run(
        second,
        conversation(
            4,
            intent="out_of_scope",
            confidence=0.67,
            last_fallback_turn=slot_events(events)[LAST_FALLBACK_SLOT],
        ),
        domain,
    )

    assert [m["response"] for m in first.messages] == ["utter_out_of_scope"]
    request = second.messages[0]["custom"]["handoff"]
    assert (request["rule"], request["score"]) == ("repeated_fallback", 0.67)
    assert "out_of_scope 0.67" in request["detail"]


async def test_numbers_the_conversation_did_not_verify_are_marked(domain: dict[str, Any]) -> None:
    dispatcher = CollectingDispatcher()
    state = conversation(
        3,
        text="talk to a person",
        intent="request_human",
        slots={
            "order_number": "so 100124",
            "invoice_number": "INV-200123",
            **verified(42, "postcode", records=("SO-100123", "INV-200123")),
        },
    )

    await ActionHandoff().run(dispatcher, state, domain)

    assert dispatcher.messages[0]["custom"]["handoff"]["slots"] == {
        "verified_customer_id": 42,
        "verified_records": ["INV-200123", "SO-100123"],
        "unverified_order_number": "SO-100124",
        "invoice_number": "INV-200123",
    }


@pytest.mark.parametrize(
    "proof",
    [{"verified_customer_id": 42}, verified(42, "email", sender_id="web:someone-else")],
    ids=["plain-slot", "other-conversations-token"],
)
async def test_an_unproven_customer_never_reaches_the_agent(
    proof: dict[str, Any], domain: dict[str, Any]
) -> None:
    dispatcher = CollectingDispatcher()
    state = conversation(2, intent="request_human", slots={"order_number": "SO-100123", **proof})

    await ActionHandoff().run(dispatcher, state, domain)

    assert dispatcher.messages[0]["custom"]["handoff"]["slots"] == {
        "unverified_order_number": "SO-100123"
    }
