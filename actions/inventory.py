"""Stock: the stock form resolves a product by SKU or name, the answer gives availability."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.alternatives import (
    MAX_OFFERS,
    alternatives_line,
    describe_alternatives,
    product_encoder,
)
from actions.answering import answering_service
from actions.base import AnswerAction, ErpFormValidationAction
from actions.erp_calls import erp_call, today
from actions.verification import first_text
from erp import inventory, product_names
from erp.alternatives import alternatives_for
from i18n.texts import current_language, say
from models.erp_facts import describe_stock, stock_context

MAX_QUERY_CHARS = product_names.MAX_MESSAGE_CHARS
MAX_CHOICES = 4
# More than any order a customer could place; a larger "quantity" is not one.
MAX_QUANTITY = 1_000_000
_LEADING_NUMBER = re.compile(r"\s*(\d{1,7})(?:\.0+)?(?![\d.,])")


class ValidateStockForm(ErpFormValidationAction):
    """Finds the product the user means, asking them to pick when several are close."""

    def name(self) -> str:
        return "validate_stock_form"

    async def extract_sku(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Offer the whole question as the candidate when it names a product the NLU missed.

        "is Steel Widget in stock" has no entity; without this the form would ask "Which
        product?". A question that names nothing is left to the form to ask.
        """
        if tracker.get_slot("sku") is not None or tracker.get_slot("requested_slot") == "sku":
            return {}
        message = latest_text(tracker)
        if not message:
            return {}
        lookup = await erp_call(product_names.lookup_products, text=message, limit=MAX_CHOICES)
        return {"sku": message} if lookup.matches else {}

    async def validate_sku(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        query = " ".join(first_text(value).split())
        if not query or len(query) > MAX_QUERY_CHARS:
            dispatcher.utter_message(text=say("inventory.ask_product"))
            return {"sku": None}
        lookup = await find_named_product(query, latest_text(tracker))
        if lookup.product is not None:
            return {"sku": lookup.product.sku}
        matches = lookup.matches
        if not matches:
            dispatcher.utter_message(text=say("inventory.no_match", query=query))
            return {"sku": None}
        dispatcher.utter_message(
            text=say("inventory.which_one"),
            buttons=[
                {
                    "title": f"{match.name} ({match.sku})",
                    "payload": "/inform" + json.dumps({"sku": match.sku}),
                }
                for match in matches
            ],
        )
        return {"sku": None}


def latest_text(tracker: Tracker) -> str:
    """The user's latest message with its whitespace collapsed."""
    return " ".join(first_text(tracker.latest_message.get("text")).split())


async def find_named_product(value: str, message: str) -> product_names.ProductLookup:
    """Look up the slot's value; when that is not decisive, the whole message it came from.

    The NLU's entity may be only part of the name ("Widget" of "White Titanium Widget").
    """
    lookup = await erp_call(product_names.lookup_products, text=value, limit=MAX_CHOICES)
    if lookup.product is not None or not message or message == value:
        return lookup
    whole = await erp_call(product_names.lookup_products, text=message, limit=MAX_CHOICES)
    return whole if whole.product is not None or not lookup.matches else lookup


class ActionCheckStock(AnswerAction):
    """Available stock per warehouse, the next delivery when it is short, and similar
    products in stock when it is out of stock."""

    def name(self) -> str:
        return "action_check_stock"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        sku = first_text(tracker.get_slot("sku"))
        if not sku:
            return []
        report = await erp_call(inventory.get_stock, sku=sku, today=today())
        wanted = wanted_quantity(tracker.get_slot("quantity"))
        text = describe_stock(report, wanted, current_language())
        if wanted is None:  # whether a wanted quantity is there is the template's to say
            reply = await answering_service().erp_answer(
                f"Is {report.name} ({report.sku}) in stock?",
                stock_context(report),
                [report.sku, str(report.total_available)],
                text,
            )
            text = reply.text
        if report.total_available == 0:
            offered = await alternatives_line(report.sku)
            text = say("inventory.with_alternatives", answer=text, alternatives=offered).rstrip()
        dispatcher.utter_message(text=text)
        return []


def wanted_quantity(value: Any) -> int | None:
    """The whole number of units a customer asked for, or None when they named none usable.

    The slot holds what the NLU extracted, which is not always a number: "20 FAS" from
    "can I order 20 FAS 1045 today", "2.5", "-3", "1e9". Only a positive whole number up to
    MAX_QUANTITY counts; anything else gets the plain availability answer.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if not math.isfinite(value) or value != int(value):
            return None
        number = int(value)
    else:
        match = _LEADING_NUMBER.match(first_text(value))
        if match is None:
            return None
        number = int(match.group(1))
    return number if 0 < number <= MAX_QUANTITY else None


class ValidateAlternativesForm(ValidateStockForm):
    """Finds the product alternatives are asked for, as the stock form does."""

    def name(self) -> str:
        return "validate_alternatives_form"


class ActionProductAlternatives(AnswerAction):
    """What to offer instead of a product: the similar ones in stock, for anyone (a customer
    choosing, a salesperson offering)."""

    def name(self) -> str:
        return "action_product_alternatives"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        sku = first_text(tracker.get_slot("sku"))
        found = await erp_call(
            alternatives_for, sku=sku, limit=MAX_OFFERS * 2, encoder=product_encoder()
        )
        stock = "available" if found.available > 0 else "out"
        facts = {"name": found.name, "sku": found.sku, "available": found.available}
        offered = describe_alternatives(found)
        text = say(f"inventory.alternatives_{stock}", alternatives=offered, **facts)
        dispatcher.utter_message(text=text)
        return []
