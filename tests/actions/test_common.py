"""Shared actions: resetting a stopped question, routing a bare answer to its question."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.common import ActionResetQuestion, ActionRouteInform
from actions.replies import reply_for
from erp.errors import NotKept
from tests.actions.conftest import slot_events, tracker, verified


async def test_reset_forgets_the_question_but_not_the_verified_customer(domain: dict) -> None:
    events = await ActionResetQuestion().run(
        CollectingDispatcher(),
        tracker({"order_number": "SO-100123", "identity": "verified", **verified(4)}),
        domain,
    )
    slots = slot_events(events)
    assert slots["order_number"] is None and slots["identity"] is None
    assert slots["verification_attempts"] == 0
    assert "verification" not in slots


@pytest.mark.parametrize(
    ("entity", "form"),
    [("order_number", "order_form"), ("invoice_number", "invoice_form"),
     ("sku", "stock_form"), ("product", "stock_form")],
    ids=["order", "invoice", "sku", "product"],
)  # fmt: skip
async def test_bare_identifier_starts_its_question(entity: str, form: str, domain: dict) -> None:
    state = tracker()
    state.latest_message["entities"] = [{"entity": entity, "value": "x"}]
    events = await ActionRouteInform().run(CollectingDispatcher(), state, domain)
    assert events == [{"event": "followup", "timestamp": None, "name": form}]


async def test_answer_to_nothing_gets_help(domain: dict) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionRouteInform().run(dispatcher, tracker(), domain)
    assert events == [] and dispatcher.messages[0]["response"] == "utter_help"


def test_a_concept_the_company_does_not_keep_gets_a_clear_reply_and_a_colleague() -> None:
    reply = reply_for(NotKept("invoice", "Northwind keeps no invoices"))
    assert "invoices" in reply and "colleague" in reply
    assert reply_for(NotKept("order_line", "none")).startswith(
        "Sorry, I can't answer questions about order lines here"
    )
