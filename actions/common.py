"""Actions shared by every area: forgetting a stopped question, routing a bare answer."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.verification import question_reset_events


class ActionResetQuestion(Action):
    """Clears the current question's slots, keeping who the conversation is verified for."""

    def name(self) -> str:
        return "action_reset_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        return question_reset_events()


class ActionRouteInform(Action):
    """A bare order number, invoice number or product with no question open starts that question."""

    def name(self) -> str:
        return "action_route_inform"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        entities = {e.get("entity") for e in tracker.latest_message.get("entities", [])}
        for entity, form in ROUTES:
            if entity in entities:
                return [FollowupAction(form)]
        dispatcher.utter_message(response="utter_help")
        return []


ROUTES = (
    ("order_number", "order_form"),
    ("invoice_number", "invoice_form"),
    ("sku", "stock_form"),
    ("product", "stock_form"),
)
