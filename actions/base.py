"""Base classes: every answer and form validation goes through replies.guarded."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.replies import guarded
from actions.verification import group_refusal, is_group, question_reset_events


class AnswerAction(Action, ABC):
    """An action that answers the user's question, then forgets the question's slots."""

    @abstractmethod
    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Send the answer; return extra events."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        async def work() -> list[dict[str, Any]]:
            return await self.answer(dispatcher, tracker, domain)

        events = await guarded(dispatcher, work, on_error=[])
        return [*events, *question_reset_events()]


class ErpFormValidationAction(FormValidationAction, ABC):
    """A form validation whose errors become a reply and end the form instead of crashing."""

    @abstractmethod
    def name(self) -> str:
        """The validation action's name: validate_<form>."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        async def work() -> list[dict[str, Any]]:
            return await super(ErpFormValidationAction, self).run(dispatcher, tracker, domain)

        ended = [ActiveLoop(None), SlotSet("requested_slot", None), *question_reset_events()]
        return await guarded(dispatcher, work, on_error=ended)


class PrivateFormValidationAction(ErpFormValidationAction, ABC):
    """A form about one customer's orders or invoices: refused where several people read.

    In a group chat (the gateway's ``group`` metadata) the form says once why and where to
    ask instead, and ends before any number or identity is looked at.
    """

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if is_group(tracker):
            dispatcher.utter_message(text=group_refusal(tracker))
            return [ActiveLoop(None), SlotSet("requested_slot", None), *question_reset_events()]
        return await super().run(dispatcher, tracker, domain)
