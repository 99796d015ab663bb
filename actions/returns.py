"""Returning delivered goods (RMA): verified like an order question, then which items and
how many, a reason from the company's list, a summary and an explicit yes.

The return window and the reasons are the company facts (data/company.yml) that the returns
policy document states too. An order not delivered yet, or delivered longer ago than the
window, is refused before anything else is asked. Corrections while confirming ("actually,
only 2 of them", "the blue ones too") change the items and show the summary again; "no" or
"stop" changes nothing. The yes authorises the return through erp/writes.py once per
confirmation key and answers with the RMA number and what to do with it.

Chinese works as English does: replies in the conversation's language
(i18n/messages/returns.yml), items picked as "全部" / "都退", "2个WID-1001", "第二个",
"其实只退1个" or "订书机也退", and a reason typed in Chinese ("尺码不对") or by its number.
Products are named by their (English) names, codes or place in the list.
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
from i18n.formatting import day
from i18n.languages import is_chinese
from i18n.texts import current_language, messages, say

ITEMS, REASON, CONFIRM = "return_items", "return_reason", "return_confirmed"
_ALL = re.compile(
    r"\b(all|everything|whole order|every item|the lot)\b"
    r"|全部|所有|都退|全退|全都|统统|整个订单|整单",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"(?<![A-Za-z0-9-])(\d{1,5})(?![A-Za-z0-9-])")
_SKU = re.compile(r"\b[A-Za-z]{3}-?\d{4}\b")
# Where one item of a list ends: "2 x WID-1001, the stapler and 1 glove"; "2个WID-1001、订书机".
_PARTS = re.compile(
    r",|;|\band\b|\bplus\b|&|，|、|；|以及|和|还有|另外|再加上?|加上", re.IGNORECASE
)
_ADDS = re.compile(r"\b(too|also|as well|plus)\b|也|还有|还要|另外|再加|加上", re.IGNORECASE)
# Chinese: "第二个" (the second line of the list shown), numbers in characters ("两个").
_POSITION_ZH = re.compile(r"第\s*(\d{1,2})\s*(?:个|项|行|件|样|种|条)?")
_HAN_NUMBER = re.compile(
    r"(?:(?<=第)|(?<![一二两三四五六七八九十]))"
    r"([一二两三四五六七八九]?十[一二三四五六七八九]?|[一二两三四五六七八九])"
    r"(?=\s*(?:个|件|台|箱|双|副|套|盒|只|把|包|条|张|项|行|样|种|$))"
)
_HAN_DIGITS = {
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_HAN_LATIN = re.compile(r"(?<=[\u3400-\u9fff])(?=[A-Za-z0-9])|(?<=[A-Za-z0-9])(?=[\u3400-\u9fff])")


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
    """What the customer picked, or why it cannot be read (a sentence for them, in this
    turn's language).

    "all" takes every line; "2 x WID-1001, the stapler" names lines by product code, by words
    of their name or by their number in the list; a bare number with one line in play (one
    line on the order, or one picked already: "actually, only 2 of them") is its quantity.
    Chinese the same way: "全部", "2个WID-1001、第二个", "其实只退1个".
    """
    if not lines:
        return say("returns.nothing_left")
    try:
        text = clean_input(text, "list of items")
    except InvalidIdentifier:
        return say("returns.unreadable")
    if _ALL.search(text):
        return {line.sku: line.returnable for line in lines if line.returnable}
    if is_chinese(text):
        text = _HAN_LATIN.sub(" ", _han_numbers(text))
    picked: dict[str, int] = {}
    for part in _PARTS.split(text):
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
            return say(
                "returns.too_many_of", name=line.name, returnable=line.returnable, quantity=amount
            )
        picked[line.sku] = amount
    return picked or say("returns.which_items")


def _han_numbers(text: str) -> str:
    """Numbers written in characters as digits: "两个" -> "2个", "第二个" -> "第2个"."""

    def digits(match: re.Match[str]) -> str:
        number = match.group(1)
        if "十" not in number:
            return str(_HAN_DIGITS[number])
        tens, _, ones = number.partition("十")
        return str(_HAN_DIGITS.get(tens, 1) * 10 + _HAN_DIGITS.get(ones, 0))

    return _HAN_NUMBER.sub(digits, text)


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
    ordinal = _POSITION_ZH.search(part)  # "第2个": the second line of the list shown
    if ordinal is not None and 1 <= int(ordinal.group(1)) <= len(lines):
        return lines[int(ordinal.group(1)) - 1]
    position = re.fullmatch(r"\s*(?:item|line|no\.?|#)?\s*(\d)\s*[.)]?\s*", part, re.IGNORECASE)
    if position is not None and 1 <= int(position.group(1)) <= len(lines):
        return lines[int(position.group(1)) - 1] if len(lines) > 1 else None
    return None


def _stems(text: str) -> set[str]:
    """Words of three letters or more, plurals folded ("staplers" is "stapler")."""
    return {re.sub(r"(?<=[a-z]{3})e?s$", "", w) for w in re.findall(r"[a-z]{3,}", text.lower())}


def _quantity(part: str) -> int | None:
    without_codes = _POSITION_ZH.sub(" ", _SKU.sub(" ", part))
    found = _NUMBER.findall(without_codes)
    return int(found[0]) if found else None


def describe_items(items: dict[str, int], lines: list[ReturnableLine]) -> str:
    names = {line.sku: line.name for line in lines}
    return _separator(", ", "、").join(
        say("returns.item", quantity=quantity, name=names.get(sku, sku), sku=sku)
        for sku, quantity in items.items()
    )


def refusal_text(order: ReturnableOrder) -> str:
    window = returns_policy().window_days
    if order.refusal == "not_delivered":
        return say("returns.refused_not_delivered", number=order.order_number, window=window)
    assert order.delivered is not None and order.last_day is not None
    language = current_language()
    return say(
        "returns.refused_window",
        number=order.order_number,
        delivered=day(order.delivered, language),
        window=window,
        last_day=day(order.last_day, language),
    )


def describe_return(outcome: WriteOutcome) -> str:
    """The answer to a confirmed return; the same for every delivery of one confirmation."""
    if not outcome.done:
        if outcome.status == "too_many":
            return say("returns.too_many", number=outcome.record)
        return say("returns.not_any_more", number=outcome.record)
    rma, _, until = outcome.detail.partition("|")
    url = returns_policy().policy_url
    policy = say("returns.policy_at", url=url) if url else say("returns.policy")
    return say(
        "returns.done",
        number=outcome.record,
        rma=rma,
        day=day(date.fromisoformat(until), current_language()),
        policy=policy,
    )


def reason_label(code: str, reasons: dict[str, str]) -> str:
    """A return reason as the customer reads it: the company's words, or their Chinese."""
    key = f"returns.reason.{code}"
    if current_language() != "en" and key in messages():
        return say(key)
    return reasons[code]


def _chinese_reason(text: str, reasons: dict[str, str]) -> str | None:
    """The reason a Chinese answer names: its place in the list ("第二个"), its Chinese
    words, or the one whose words it shares most of ("尺码不对" is wrong_size)."""
    ordinal = _POSITION_ZH.search(_han_numbers(text))
    if ordinal is not None and 1 <= int(ordinal.group(1)) <= len(reasons):
        return list(reasons)[int(ordinal.group(1)) - 1]
    labels = {
        code: say(f"returns.reason.{code}", "zh")
        for code in reasons
        if f"returns.reason.{code}" in messages()
    }
    typed = _bigrams(text)
    scored = sorted(
        ((len(typed & _bigrams(label)), code) for code, label in labels.items()), reverse=True
    )
    if not scored or scored[0][0] < 2 or (len(scored) > 1 and scored[1][0] == scored[0][0]):
        return None
    return scored[0][1]


def _bigrams(text: str) -> set[str]:
    """Pairs of neighbouring Chinese characters: what two Chinese phrases share."""
    han = "".join(c for c in text if is_chinese(c))
    return {han[i : i + 2] for i in range(len(han) - 1)}


def _separator(english: str, chinese: str) -> str:
    """What separates listed parts in this turn's language."""
    return chinese if current_language() == "zh" else english


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
            hint = _item_hint(order.lines)
            dispatcher.utter_message(text=say("returns.sorry", why=picked, hint=hint))
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
        if code is None and is_chinese(text):
            code = _chinese_reason(text, reasons)
        if code is None:
            dispatcher.utter_message(text=say("returns.pick_reason"))
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
    """Whether the message adds to the items picked ("the blue ones too", "订书机也退")."""
    return bool(_ADDS.search(text))


def _item_hint(lines: list[ReturnableLine]) -> str:
    listed = _separator("; ", "；").join(
        say("returns.line", position=i, quantity=line.returnable, name=line.name, sku=line.sku)
        for i, line in enumerate(lines, 1)
    )
    return say("returns.hint", lines=listed, sku=lines[0].sku) if lines else ""


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
            buttons.append({"title": say("returns.everything"), "payload": "all"})
            dispatcher.utter_message(
                text=say("returns.ask_items", number=number, hint=_item_hint(lines)),
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
            text=say("returns.ask_reason"),
            buttons=[
                {
                    "title": reason_label(code, reasons),
                    "payload": f'/inform{{"return_reason": "{code}"}}',
                }
                for code in reasons
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
                text=say(
                    "returns.confirm",
                    items=describe_items(items, order.lines),
                    number=number,
                    reason=reason_label(reason, reasons),
                ),
                buttons=[
                    {"title": say("returns.yes"), "payload": "/affirm"},
                    {"title": say("change.no"), "payload": "/deny"},
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
            dispatcher.utter_message(text=say("returns.kept"))
            return renewal_events(tracker, proof)
        key, items = pending_key(tracker, number), chosen(tracker)
        reason = first_text(tracker.get_slot(REASON))
        if key is None or not items:
            dispatcher.utter_message(text=say("returns.lost"))
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
