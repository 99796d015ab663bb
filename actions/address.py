"""Changing an order's delivery address: verified like an order question, then the new
address (street with town, postcode, country), a summary and an explicit yes.

The postcode is checked in its country's format; where only one of the countries the
company delivers to writes postcodes that way (M1 4BT: the United Kingdom), the country is
not asked. A correction at any point ("no, the postcode is M1 3HE", "actually it's 9 Mill
Lane, Leeds") updates that part and shows the summary again; "no, the other address" asks
for the address again; a plain "no" or "stop" changes nothing. The yes changes the order
through erp/writes.py once per confirmation key, like a cancellation (actions/cancel.py).

Chinese works as English does: replies in the conversation's language
(i18n/messages/address.yml), countries named in Chinese (英国, 荷兰, 德国), lead-ins such as
"我的邮编是 M1 3HE" or "新地址是 ...", and a plain Chinese no ("不用了", "不，保持原样").
"""

from __future__ import annotations

import re
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
    describe_outcome,
    new_key,
    order_status,
    pending_key,
)
from actions.erp_calls import erp_call, erp_write
from actions.orders import ORDER
from actions.record_forms import AskRecordIdentity
from actions.replies import invalid_identifier
from actions.verification import first_text, renewal_events, verification
from erp import orders, writes
from erp.access import CustomerKey
from erp.addresses import (
    COUNTRIES,
    MIN_STREET_CHARS,
    Address,
    normalise_postcode_for,
    normalise_street,
    parse_country,
)
from erp.errors import InvalidIdentifier
from erp.ids import postcode_in_text
from erp.schema import current_spec
from erp.writes import READDRESSABLE, WriteOutcome
from i18n.formatting import listing
from i18n.languages import is_chinese
from i18n.texts import current_language, messages, say

STREET, POSTCODE, COUNTRY, CONFIRM = (
    "new_street",
    "new_postcode",
    "new_country",
    "address_confirmed",
)
ADDRESS_SLOTS = (STREET, POSTCODE, COUNTRY)
# A "no" that is only a no: anything more ("no, the other address") asks for the address again.
_PLAIN_NO = re.compile(
    r"^\s*(/deny|no+|nope|nah|no thanks?( you)?|no,? keep it( as it is)?|keep it)[\s.!]*$",
    re.IGNORECASE,
)
# The same in Chinese: "不", "不用了", "不，谢谢", "不，保持原样"; "不，是另一个地址" is more.
_NO_ZH = (
    r"(?:不|不是|不用|不要|不了|不用了|不要了|不必了?|算了|没有|否|不对|取消|别改了?|不改了?"
    r"|不用改了?|不换了?|保持原样|保持不变|维持原样|按原地址|用原来的地址|还是原来的地址"
    r"|谢谢你?|谢了|多谢)"
)
_PLAIN_NO_ZH = re.compile(rf"^\s*{_NO_ZH}(?:[\s，,、]*{_NO_ZH})*[\s。.!！~～]*$")
# What comes before the part asked for: "my postcode is", "我的邮编是", "新地址是", "送到".
_POSTCODE_LEAD = re.compile(
    r"^\s*(?:(?:(?:my|our|the|its|new)\s+)*(?:post\s*code|postal\s*code|zip(?:\s*code)?)"
    r"\s*(?:is\b|[:=：])?|it'?s\b|it\s+is\b"
    r"|(?:我的|我们的|新的?|新地址的)?(?:邮编|邮政编码)\s*(?:是|为|[:：])?)\s*",
    re.IGNORECASE,
)
_STREET_LEAD = re.compile(
    r"^\s*(?:(?:the|my|our)\s+)?(?:new\s+)?(?:delivery\s+)?address\s*(?:is\b|:)\s*"
    r"|^\s*(?:请|麻烦)?(?:改|换)?(?:送到|寄到|发到|送去|寄去|改成|改为)\s*[:：]?\s*"
    r"|^\s*(?:我的|我们的)?(?:新的?)?(?:收货|送货|配送|收件|邮寄)?地址\s*(?:是|为|改成|改为)?\s*[:：]?\s*",
    re.IGNORECASE,
)
# What may end a postcode's message but is not part of it; a street line keeps its "St.".
_AFTER_POSTCODE = "。．.!！ \t"
_AFTER_STREET = "。 \t"
# Country names as Chinese customers write them (codes of erp/addresses.py COUNTRIES); the
# longer first, so 北爱尔兰 (Northern Ireland) is not read as 爱尔兰 (Ireland).
_COUNTRIES_ZH = {
    "GB": ("英国", "英格兰", "苏格兰", "威尔士", "北爱尔兰", "大不列颠", "联合王国"),
    "NL": ("荷兰", "尼德兰"),
    "DE": ("德国", "德意志"),
    "BE": ("比利时",),
    "FR": ("法国",),
    "IE": ("爱尔兰", "爱尔兰共和国"),
}


def postcode_country(postcode: str, delivers_to: tuple[str, ...]) -> list[str]:
    """The countries the company delivers to whose postcodes look like this one."""
    return [code for code in delivers_to if COUNTRIES[code].normalise(postcode) is not None]


def describe_readdress(outcome: WriteOutcome) -> str:
    if outcome.done:
        return say("address.done", number=outcome.record, address=_shown_address(outcome.detail))
    return cannot_readdress(outcome.record, outcome.status)


def cannot_readdress(number: str, status: str) -> str:
    return say("address.too_late", number=number, status=order_status(status))


def country_name(code: str) -> str:
    """A country's name in this turn's language: "the United Kingdom", "英国"."""
    key = f"address.country.{code}"
    return say(key) if key in messages() else COUNTRIES[code].name


def address_text(address: Address) -> str:
    """An address as the customer reads it: "7 Canal Street, Manchester, M1 3HE, 英国"."""
    if current_language() == "en":
        return str(address)
    return f"{address.street}, {address.postcode}, {country_name(address.country)}"


def _shown_address(detail: str) -> str:
    """The address a change recorded (``str(Address)``, in English), its country named in
    this turn's language."""
    if current_language() == "en":
        return detail
    for code, country in COUNTRIES.items():
        suffix = f", {country.name}"
        if detail.endswith(suffix):
            return f"{detail.removesuffix(suffix)}, {country_name(code)}"
    return detail


def _or_list(names: list[str]) -> str:
    """ "A, B or C"; "A、B或C" in Chinese."""
    if len(names) <= 1:
        return "".join(names)
    separator = "、" if current_language() == "zh" else ", "
    return separator.join(names[:-1]) + say("word.or") + names[-1]


def address_error(error: InvalidIdentifier, country: str | None = None) -> str:
    """What is wrong with a typed part of the address (``country``: the country a postcode
    was checked for). English says erp/addresses.py's reason as it is."""
    if current_language() == "en":
        return f"Sorry, {error}."
    shown = error.value.strip()[:40] or "''"
    if error.kind == "street address":
        return say("address.bad_street", shown=shown)
    if error.kind.startswith("postcode") and country in COUNTRIES:
        known = COUNTRIES[country]
        return say(
            "address.bad_postcode",
            shown=shown,
            country=country_name(country),
            example=known.example,
        )
    if error.kind == "country":
        names = [country_name(code) for code in current_spec().delivers_to if code in COUNTRIES]
        return say("address.bad_country", shown=shown, countries=listing(names, "zh"))
    return invalid_identifier(error)


def without_lead(text: str, lead: re.Pattern[str], after: str) -> str:
    """``text`` without what comes before the part asked for ("my postcode is", "我的邮编是")
    nor what ends the message after it (``after``: "。"); ``text`` itself when nothing else
    is left."""
    rest = lead.sub("", text, count=1).strip(after)
    return rest or text


def typed_country(text: str, delivers_to: tuple[str, ...]) -> str:
    """The code of the country ``text`` names (a code, "Netherlands", "荷兰"), if the company
    delivers there.

    Raises:
        InvalidIdentifier: no such country named, or one the company does not deliver to.
    """
    if text in delivers_to:
        return text
    found = chinese_country(text, delivers_to) if is_chinese(text) else None
    return found or parse_country(text, delivers_to)


def chinese_country(text: str, delivers_to: tuple[str, ...]) -> str | None:
    """The code of the one country the company delivers to that ``text`` names in Chinese
    ("送到荷兰" -> "NL"), or None (none named, or several)."""
    found: set[str] = set()
    names = sorted(
        ((name, code) for code, all_names in _COUNTRIES_ZH.items() for name in all_names),
        key=lambda pair: -len(pair[0]),
    )
    for name, code in names:
        if name in text:
            found.add(code)
            text = text.replace(name, " ")
    allowed = [code for code in found if code in delivers_to]
    return allowed[0] if len(allowed) == 1 else None


def is_plain_no(text: str) -> bool:
    """Whether a message is only a no ("no", "nope", "不用了", "不，谢谢"), nothing more."""
    return bool(_PLAIN_NO.match(text) or _PLAIN_NO_ZH.match(text))


class ValidateChangeAddressForm(ConfirmedChangeForm):
    """The order number, an identity factor, the new address, then yes or no."""

    write = "change_address"
    verb = "change the delivery address of"
    confirm_slot = CONFIRM

    def name(self) -> str:
        return "validate_change_address_form"

    def detail_slots(self) -> list[str]:
        many = len(current_spec().delivers_to) > 1
        return [STREET, POSTCODE, COUNTRY] if many else [STREET, POSTCODE]

    async def refusal(self, number: str, customer_id: CustomerKey) -> str | None:
        status = await erp_call(orders.get_order_status, number, customer_id=customer_id)
        if status.status in READDRESSABLE:
            return None
        return cannot_readdress(status.order_number, status.status)

    async def validate_new_street(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        try:
            street = normalise_street(without_lead(first_text(value), _STREET_LEAD, _AFTER_STREET))
        except InvalidIdentifier as error:
            dispatcher.utter_message(text=address_error(error))
            return {STREET: None}
        # "12 High Street, Manchester M1 4BT": the postcode at the end is taken as well.
        found = postcode_in_text(street)
        if found is not None and len(street[: found[0]].rstrip(" ,")) >= MIN_STREET_CHARS:
            tail = street[found[0] :].strip(" ,.")
            if tail.upper().replace(" ", "") == found[1].upper().replace(" ", ""):
                countries = postcode_country(
                    found[1].upper().replace(" ", ""), current_spec().delivers_to
                )
                if len(countries) == 1:
                    return {
                        STREET: street[: found[0]].rstrip(" ,"),
                        POSTCODE: normalise_postcode_for(found[1], countries[0]),
                        COUNTRY: countries[0],
                        CONFIRM: None,
                    }
        return {STREET: street, CONFIRM: None}  # a changed address is confirmed again

    async def validate_new_postcode(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        delivers_to = current_spec().delivers_to
        typed = without_lead(first_text(value), _POSTCODE_LEAD, _AFTER_POSTCODE)
        country = first_text(tracker.get_slot(COUNTRY))
        if country in delivers_to:
            candidates = [country]
        else:
            candidates = postcode_country(typed.upper().replace(" ", ""), delivers_to) or list(
                delivers_to
            )
        try:
            postcode = normalise_postcode_for(typed, candidates[0])
        except InvalidIdentifier as error:
            dispatcher.utter_message(text=address_error(error, candidates[0]))
            return {POSTCODE: None}
        inferred = {COUNTRY: candidates[0]} if len(candidates) == 1 else {}
        return {POSTCODE: postcode, **inferred, CONFIRM: None}

    async def validate_new_country(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        delivers_to = current_spec().delivers_to
        text = first_text(value)
        try:
            country = typed_country(text, delivers_to)
        except InvalidIdentifier as error:
            dispatcher.utter_message(text=address_error(error))
            return {COUNTRY: None}
        postcode = first_text(tracker.get_slot(POSTCODE))
        if postcode and COUNTRIES[country].normalise(postcode) is None:
            known = COUNTRIES[country]
            dispatcher.utter_message(
                text=say(
                    "address.postcode_shape", country=country_name(country), example=known.example
                )
            )
            return {COUNTRY: country, POSTCODE: None, CONFIRM: None}
        return {COUNTRY: country, CONFIRM: None}

    async def validate_address_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value in (YES, REFUSED):
            return {CONFIRM: value}
        if value != NO:
            return {CONFIRM: None}
        if any(slot in tracker.slots_to_validate() for slot in ADDRESS_SLOTS):
            return {CONFIRM: None}  # "no, the postcode is ...": corrected, confirm again
        if is_plain_no(str(tracker.latest_message.get("text") or "")):
            return {CONFIRM: NO}
        # "No, the other address": ask for it again.
        return {CONFIRM: None, STREET: None, POSTCODE: None, COUNTRY: None}


class ActionAskNewCountry(Action):
    """Asks which country, naming those the company delivers to."""

    def name(self) -> str:
        return "action_ask_new_country"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        names = [country_name(code) for code in current_spec().delivers_to]
        dispatcher.utter_message(text=say("address.which_country", countries=_or_list(names)))
        return []


class ActionAskChangeAddressIdentity(AskRecordIdentity):
    kind = ORDER

    def name(self) -> str:
        return "action_ask_change_address_form_identity"


def typed_address(tracker: Tracker) -> Address | None:
    """The new address in the form's slots, when all of it is there."""
    street, postcode = first_text(tracker.get_slot(STREET)), first_text(tracker.get_slot(POSTCODE))
    country = first_text(tracker.get_slot(COUNTRY))
    delivers_to = current_spec().delivers_to
    if not country and len(delivers_to) == 1:
        country = delivers_to[0]
    if not (street and postcode and country in delivers_to):
        return None
    return Address(street, postcode, country)


class ActionAskAddressConfirmed(Action):
    """Shows the order's new address and asks yes or no, with a new confirmation key."""

    def name(self) -> str:
        return "action_ask_address_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        number = ORDER.number(tracker)
        address = typed_address(tracker)
        if number is None or address is None:
            return []
        dispatcher.utter_message(
            text=say("address.confirm", number=number, address=address_text(address)),
            buttons=[
                {"title": say("address.yes"), "payload": "/affirm"},
                {"title": say("change.no"), "payload": "/deny"},
            ],
        )
        return [new_key(number)]


class ActionChangeAddress(AnswerAction):
    """Changes the delivery address on a "yes" to the summary just shown."""

    staff_area = "orders"

    def name(self) -> str:
        return "action_change_address"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        answer = tracker.get_slot(CONFIRM)
        number = ORDER.number(tracker)
        proof = verification(tracker)
        if answer == REFUSED or number is None or proof is None:
            return []
        if answer != YES:
            dispatcher.utter_message(text=say("address.kept", number=number))
            return renewal_events(tracker, proof)
        key = pending_key(tracker, number)
        address = typed_address(tracker)
        if key is None or address is None:
            dispatcher.utter_message(text=say("address.lost"))
            return []
        outcome = await erp_write(
            writes.change_address,
            number,
            address,
            customer_id=proof.customer_id,
            key=key,
            actor=asker_of(tracker).actor,
        )
        dispatcher.utter_message(text=describe_outcome(outcome))
        return [SlotSet(LAST_WRITE_SLOT, key), *renewal_events(tracker, proof, number)]
