"""Actions shared by every area: forgetting a question the user stopped."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
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
