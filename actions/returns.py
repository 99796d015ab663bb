"""Returning delivered goods (RMA): verified like an order question, then which items and
how many, a reason from the company's list, a summary and an explicit yes.

The return window and the reasons are the company facts (data/company.yml) that the returns
policy document states too. An order not delivered yet, or delivered longer ago than the
window, is refused before anything else is asked. Corrections while confirming ("actually,
only 2 of them", "the blue ones too") change the items and show the summary again; "no" or
"stop" changes nothing. The yes authorises the return through erp/writes.py once per
confirmation key and answers with the RMA number and what to do with it.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import AnswerAction, asker_of
from actions.changes import (
    LAST_WRITE_SLOT,
    NO,
    REFUSED,
    YES,
    ConfirmedChangeForm,
    new_key,
    pending_key,
)
from actions.erp_calls import asking_for, erp_call, erp_write, today
from actions.orders import ORDER
from actions.record_forms import AskRecordIdentity
from actions.replies import guarded
from actions.verification import first_text, renewal_events, verification
from erp import returns, writes
from erp.access import CustomerKey
from erp.errors import InvalidIdentifier
from erp.ids import clean_input
from erp.returns import ReturnableLine, ReturnableOrder, returns_policy
from erp.writes import WriteOutcome
from models.erp_facts import day

ITEMS, REASON, CONFIRM = "return_items", "return_reason", "return_confirmed"
_ALL = re.compile(r"\b(all|everything|whole order|every item|the lot)\b", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![A-Za-z0-9-])(\d{1,5})(?![A-Za-z0-9-])")
_SKU = re.compile(r"\b[A-Za-z]{3}-?\d{4}\b")


def chosen(tracker: Tracker) -> dict[str, int]:
    """The items picked so far (product key -> quantity), from the slot's JSON."""
    try:
        items = json.loads(first_text(tracker.get_slot(ITEMS)) or "{}")
    except ValueError:
        return {}
    if not isinstance(items, dict):
        return {}
    return {str(k): v for k, v in items.items() if isinstance(v, int) and v > 0}


def pick_items(
    text: str, lines: list[ReturnableLine], current: dict[str, int]
) -> dict[str, int] | str:
    """What the customer picked, or why it cannot be read (a sentence for them).

    "all" takes every line; "2 x WID-1001, the stapler" names lines by product code, by words
    of their name or by their number in the list; a bare number with one line in play (one
    line on the order, or one picked already: "actually, only 2 of them") is its quantity.
    """
    if not lines:
        return "there is nothing left on that order to return"
    try:
        text = clean_input(text, "list of items")
    except InvalidIdentifier:
        return "I couldn't read that as a list of items"
    if _ALL.search(text):
        return {line.sku: line.returnable for line in lines if line.returnable}
    picked: dict[str, int] = {}
    for part in re.split(r",|;|\band\b|\bplus\b|&", text, flags=re.IGNORECASE):
        line = _line_named(part, lines)
        quantity = _quantity(part)
        if line is None:
            in_play = [ln for ln in lines if ln.sku in current] if current else lines
            if quantity is not None and len(in_play) == 1 and not _SKU.search(part):
                line = in_play[0]
            else:
                continue
        amount = quantity if quantity is not None else line.returnable
        if not 1 <= amount <= line.returnable:
            return f"{line.name} can be returned up to {line.returnable}, not {amount}"
        picked[line.sku] = amount
    return picked or "I couldn't tell which items you mean"


def _line_named(part: str, lines: list[ReturnableLine]) -> ReturnableLine | None:
    code = _SKU.search(part)
    if code is not None:
        wanted = code.group(0).upper().replace("-", "")
        return next((ln for ln in lines if ln.sku.upper().replace("-", "") == wanted), None)
    words = _stems(part)
    scored = [(len(words & _stems(ln.name)), ln) for ln in lines]
    best = max((score for score, _ in scored), default=0)
    matches = [ln for score, ln in scored if score == best and best > 0]
    if len(matches) == 1:
        return matches[0]
    position = re.fullmatch(r"\s*(?:item|line|no\.?|#)?\s*(\d)\s*[.)]?\s*", part, re.IGNORECASE)
    if position is not None and 1 <= int(position.group(1)) <= len(lines):
        return lines[int(position.group(1)) - 1] if len(lines) > 1 else None
    return None


def _stems(text: str) -> set[str]:
    """Words of three letters or more, plurals folded ("staplers" is "stapler")."""
    return {re.sub(r"(?<=[a-z]{3})e?s$", "", w) for w in re.findall(r"[a-z]{3,}", text.lower())}


def _quantity(part: str) -> int | None:
    without_codes = _SKU.sub(" ", part)
    found = _NUMBER.findall(without_codes)
    return int(found[0]) if found else None


def describe_items(items: dict[str, int], lines: list[ReturnableLine]) -> str:
    names = {line.sku: line.name for line in lines}
    return ", ".join(
        f"{quantity} x {names.get(sku, sku)} ({sku})" for sku, quantity in items.items()
    )


def refusal_text(order: ReturnableOrder) -> str:
    window = returns_policy().window_days
    if order.refusal == "not_delivered":
        return (
            f"Order {order.order_number} hasn't been delivered yet, so it can't be returned. "
            f"Returns are accepted within {window} days of delivery."
        )
    assert order.delivered is not None and order.last_day is not None
    return (
        f"Order {order.order_number} was delivered on {day(order.delivered)}; returns are "
        f"accepted within {window} days of delivery, so until {day(order.last_day)}. If "
        "something is faulty or damaged, a colleague can help: just ask for one."
    )


def describe_return(outcome: WriteOutcome) -> str:
    """The answer to a confirmed return; the same for every delivery of one confirmation."""
    if not outcome.done:
        if outcome.status == "too_many":
            return (
                f"Some of those items from order {outcome.record} are already being returned, "
                "so I authorised nothing. Please ask again for what is left."
            )
        return f"Order {outcome.record} can't be returned any more, so I authorised nothing."
    rma, _, until = outcome.detail.partition("|")
    url = returns_policy().policy_url
    policy = (
        f"Our returns policy explains fees and refunds: {url}"
        if url
        else ("Our returns policy explains fees and refunds.")
    )
    return (
        f"Done: your return from order {outcome.record} is authorised, RMA number {rma}. "
        f"Write it on the outside of every box and send the goods so they reach us by "
        f"{day(date.fromisoformat(until))}. {policy}"
    )


class ValidateReturnForm(ConfirmedChangeForm):
    """The order number, an identity factor, the items, a reason, then yes or no."""

    write = "request_return"
    verb = "arrange returns of"
    confirm_slot = CONFIRM

    def name(self) -> str:
        return "validate_return_form"

    def detail_slots(self) -> list[str]:
        return [ITEMS, REASON]

    async def refusal(self, number: str, customer_id: CustomerKey) -> str | None:
        order = await erp_call(
            returns.returnable_order, number, customer_id=customer_id, today=today()
        )
        return refusal_text(order) if order.refusal else None

    async def validate_return_items(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        number, proof = ORDER.number(tracker), verification(tracker)
        if number is None or proof is None:
            return {ITEMS: None}
        text = str(tracker.latest_message.get("text") or first_text(value))
        order = await erp_call(
            returns.returnable_order, number, customer_id=proof.customer_id, today=today()
        )
        current = chosen(tracker)
        picked = pick_items(text, order.lines, current)
        if isinstance(picked, str):
            dispatcher.utter_message(text=f"Sorry, {picked}. " + _item_hint(order.lines))
            return {ITEMS: json.dumps(current) if current else None, CONFIRM: None}
        if _adds(text):  # "the stapler too"
            picked = {**current, **picked}
        return {ITEMS: json.dumps(picked), CONFIRM: None}

    async def validate_return_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        reasons = returns_policy().reasons
        text = first_text(value).strip()
        code = text if text in reasons else None
        if code is None:
            folded = text.casefold()
            code = next(
                (c for c, label in reasons.items() if folded in (label.casefold(), c)), None
            )
        if code is None and text.isdigit() and 1 <= int(text) <= len(reasons):
            code = list(reasons)[int(text) - 1]
        if code is None:
            dispatcher.utter_message(text="Sorry, please pick one of the reasons below.")
            return {REASON: None}
        return {REASON: code, CONFIRM: None}

    async def validate_return_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value in (YES, REFUSED):
            return {CONFIRM: value}
        if value == NO and ITEMS not in tracker.slots_to_validate():
            return {CONFIRM: NO}
        return {CONFIRM: None}


def _adds(text: str) -> bool:
    """Whether the message adds to the items picked ("the blue ones too")."""
    return bool(re.search(r"\b(too|also|as well|plus)\b", text, re.IGNORECASE))


def _item_hint(lines: list[ReturnableLine]) -> str:
    listed = "; ".join(
        f"{i}. {line.returnable} x {line.name} ({line.sku})" for i, line in enumerate(lines, 1)
    )
    return f'On the order: {listed}. Say e.g. "2 x {lines[0].sku}" or "all".' if lines else ""


class ActionAskReturnIdentity(AskRecordIdentity):
    kind = ORDER

    def name(self) -> str:
        return "action_ask_return_form_identity"


class ActionAskReturnItems(Action):
    """Lists what may be returned, with a button per line and one for everything."""

    def name(self) -> str:
        return "action_ask_return_items"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        number, proof = ORDER.number(tracker), verification(tracker)
        if number is None or proof is None:
            return []

        async def work() -> list[dict[str, Any]]:
            order = await erp_call(
                returns.returnable_order, number, customer_id=proof.customer_id, today=today()
            )
            lines = [line for line in order.lines if line.returnable]
            buttons = [
                {
                    "title": f"{line.returnable} x {line.name}",
                    "payload": f"{line.returnable} x {line.sku}",
                }
                for line in lines[:8]
            ]
            buttons.append({"title": "Everything", "payload": "all"})
            dispatcher.utter_message(
                text=f"Which items from order {number} would you like to return? "
                + _item_hint(lines),
                buttons=buttons,
            )
            return []

        with asking_for(asker_of(tracker)):
            return await guarded(dispatcher, work, on_error=[])


class ActionAskReturnReason(Action):
    """The company's reasons for a return, as buttons."""

    def name(self) -> str:
        return "action_ask_return_reason"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        reasons = returns_policy().reasons
        dispatcher.utter_message(
            text="Why are they coming back?",
            buttons=[
                {"title": label, "payload": f'/inform{{"return_reason": "{code}"}}'}
                for code, label in reasons.items()
            ],
        )
        return []


class ActionAskReturnConfirmed(Action):
    """Shows what will be returned and why, and asks yes or no, with a new key."""

    def name(self) -> str:
        return "action_ask_return_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        number, proof = ORDER.number(tracker), verification(tracker)
        items, reason = chosen(tracker), first_text(tracker.get_slot(REASON))
        reasons = returns_policy().reasons
        if number is None or proof is None or not items or reason not in reasons:
            return []

        async def work() -> list[dict[str, Any]]:
            order = await erp_call(
                returns.returnable_order, number, customer_id=proof.customer_id, today=today()
            )
            dispatcher.utter_message(
                text=f"Please confirm: return {describe_items(items, order.lines)} from order "
                f"{number}, reason: {reasons[reason]}?",
                buttons=[
                    {"title": "Yes, return them", "payload": "/affirm"},
                    {"title": "No", "payload": "/deny"},
                ],
            )
            return [new_key(number)]

        with asking_for(asker_of(tracker)):
            return await guarded(dispatcher, work, on_error=[])


class ActionRequestReturn(AnswerAction):
    """Authorises the return on a "yes" to the summary just shown."""

    staff_area = "orders"

    def name(self) -> str:
        return "action_request_return"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        answer = tracker.get_slot(CONFIRM)
        number, proof = ORDER.number(tracker), verification(tracker)
        if answer == REFUSED or number is None or proof is None:
            return []
        if answer != YES:
            dispatcher.utter_message(text="OK, I haven't arranged any return.")
            return renewal_events(tracker, proof)
        key, items = pending_key(tracker, number), chosen(tracker)
        reason = first_text(tracker.get_slot(REASON))
        if key is None or not items:
            dispatcher.utter_message(
                text="Sorry, I lost track of what you confirmed, so I arranged nothing. "
                "Please ask me again for the return."
            )
            return []
        outcome = await erp_write(
            writes.request_return,
            number,
            items,
            reason,
            customer_id=proof.customer_id,
            key=key,
            actor=asker_of(tracker).actor,
            today=today(),
        )
        dispatcher.utter_message(text=describe_return(outcome))
        return [SlotSet(LAST_WRITE_SLOT, key), *renewal_events(tracker, proof, number)]
