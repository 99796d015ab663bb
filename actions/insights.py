"""Staff insights: a product's stock-out forecast, receivables ageing, a customer's balance.

For staff only, each by its role (`actions.staff`): warehouse (and admin) the forecast,
finance (and admin) receivables. A customer asking is told these are internal, and nothing
is read.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import charts
from actions.base import AnswerAction
from actions.erp_calls import erp_call, today
from actions.inventory import ValidateStockForm
from actions.staff import staff_refusal
from actions.verification import first_text, is_staff, question_reset_events
from erp import customers, forecast, receivables
from erp.errors import RecordNotFound
from erp.receivables import BUCKETS, Ageing
from models.erp_facts import day, money, plural

logger = logging.getLogger(__name__)

INTERNAL = (
    "Sorry, that's internal information for the company's staff. I can check an order, "
    "stock of a product or your invoices."
)
TOP_CUSTOMERS = 5
_EMAIL = re.compile(r"[^\s@<>(),;:\"']+@[^\s@<>(),;:\"']+\.[A-Za-z]{2,}")
_CUSTOMER_NUMBER = re.compile(r"\bcustomer\s*(?:no\.?|number|#|id)?\s*(\d{1,12})\b", re.I)


def insight_refusal(tracker: Tracker, area: str) -> str | None:
    """Why this sender may not see ``area``: a customer never, staff by their roles."""
    if not is_staff(tracker):
        return INTERNAL
    return staff_refusal(tracker, area)


class StaffInsight(AnswerAction):
    """An answer for staff whose roles cover ``staff_area``; refused to customers."""

    staff_area: ClassVar[str | None]

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if not is_staff(tracker):
            dispatcher.utter_message(text=INTERNAL)
            return []
        return await super().run(dispatcher, tracker, domain)


class ValidateForecastForm(ValidateStockForm):
    """Finds the product a forecast is asked for, as the stock form does; only for staff
    who may see supply (the form ends for anyone else, saying why)."""

    def name(self) -> str:
        return "validate_forecast_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        refused = insight_refusal(tracker, "supply")
        if refused is not None:
            dispatcher.utter_message(text=refused)
            return [ActiveLoop(None), SlotSet("requested_slot", None), *question_reset_events()]
        return await super().run(dispatcher, tracker, domain)


class ActionStockForecast(StaffInsight):
    """When a product is expected to run out, the incoming supply and whether to reorder."""

    staff_area = "supply"

    def name(self) -> str:
        return "action_stock_forecast"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        sku = first_text(tracker.get_slot("sku"))
        day_ = today()
        result = await erp_call(forecast.forecast_stockout, sku, today=day_)
        dispatcher.utter_message(text=describe_forecast(result))
        history = await erp_call(forecast.sales_history, result.sku, today=day_)
        title = f"{result.sku} {result.name}: stock and sales with the forecast"
        await send_chart(dispatcher, title, result.summary, charts.forecast_chart, result, history)
        return []


class ActionReceivablesAgeing(StaffInsight):
    """What customers owe by age, per currency, and who owes most past due."""

    staff_area = "receivables"

    def name(self) -> str:
        return "action_receivables_ageing"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        day_ = today()
        aged = await erp_call(receivables.ageing, today=day_)
        top = await erp_call(receivables.ageing_by_customer, today=day_, limit=TOP_CUSTOMERS)
        text = describe_ageing(aged, top)
        dispatcher.utter_message(text=text)
        if aged.balances:
            title = f"Receivables ageing, {day(day_)}"
            await send_chart(dispatcher, title, text.splitlines()[0], charts.ageing_chart, aged)
        return []


class ActionCustomerBalance(StaffInsight):
    """One customer's open balance by age and how they pay, named by email or number."""

    staff_area = "receivables"

    def name(self) -> str:
        return "action_customer_balance"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        text = first_text(tracker.latest_message.get("text"))
        email = next(iter(tracker.get_latest_entity_values("email")), None)
        email = email or (found.group(0) if (found := _EMAIL.search(text)) else None)
        number = _CUSTOMER_NUMBER.search(text)
        if email:
            key = await erp_call(customers.customer_id_for_email, str(email).strip())
            named = f"the email address {email}"
        elif number:
            key = await erp_call(customers.customer_id_for_number, number.group(1))
            named = f"the customer number {number.group(1)}"
        else:
            dispatcher.utter_message(
                text="Which customer? Name them by email address or customer number, e.g. "
                '"balance of anna@example.com" or "balance of customer 1042".'
            )
            return []
        if key is None:
            dispatcher.utter_message(text=f"No customer has {named}.")
            return []
        try:
            account = await erp_call(receivables.customer_receivables, key, today=today())
        except RecordNotFound:
            dispatcher.utter_message(text=f"No customer has {named}.")
            return []
        dispatcher.utter_message(text=describe_customer(account))
        return []


async def send_chart(
    dispatcher: CollectingDispatcher,
    title: str,
    alt: str,
    render: Callable[..., bytes],
    *args: Any,
) -> None:
    """Draw a chart in a worker thread (a few tenths of a second of CPU) and send it after
    the text; a chart that cannot be drawn is logged and left out, the answer stands."""
    try:
        png = await asyncio.to_thread(render, *args)
    except Exception:
        logger.exception("chart %r not drawn", title)
        return
    charts.utter_chart(dispatcher, title=title, alt=alt, png=png)


# --- texts ----------------------------------------------------------------------------------


def describe_forecast(result: forecast.StockoutForecast) -> str:
    """A colleague's answer: stock, demand, the expected stock-out with its range, supply,
    and the reorder suggestion."""
    parts = [
        f"{result.sku} {result.name}: {result.available} available ({result.on_hand} on hand)."
    ]
    demand = result.demand
    if result.stockout_date is None:
        parts.append("No sales to go by, so no stock-out is expected.")
    else:
        parts.append(
            f"Selling about {_number(demand.daily)} a day (80% range {_number(demand.low)}"
            f"–{_number(demand.high)}, {demand.method} over {plural(demand.weeks, 'week')})."
        )
        latest = day(result.stockout_latest) if result.stockout_latest else "not at all"
        earliest = day(result.stockout_earliest or result.stockout_date)
        cover = f"{_number(result.days_of_cover)} days of cover" if result.days_of_cover else ""
        parts.append(
            f"Expected to run out around {day(result.stockout_date)} ({cover}; between "
            f"{earliest} and {latest})."
        )
    if result.incoming:
        supply = ", ".join(
            f"{s.reference} {s.quantity} due {day(s.eta) if s.eta else '(no date)'}"
            for s in result.incoming
        )
        parts.append(f"Incoming: {supply}.")
    else:
        parts.append("No purchase order is open for it.")
    source = "the ERP's" if result.reorder_point_source == "erp" else "computed"
    if result.reorder is not None:
        parts.append(
            f"Below the reorder point ({result.reorder_point}, {source}; stock position "
            f"{result.reorder.position}): reorder {result.reorder.quantity}."
        )
    else:
        parts.append(f"Above the reorder point ({result.reorder_point}, {source}): no reorder.")
    return " ".join(parts)


def describe_ageing(aged: Ageing, top: list[receivables.CustomerAgeing]) -> str:
    """Open receivables per currency by age bucket, then the customers owing most past due."""
    if not aged.balances:
        return f"Nothing is owed as of {day(aged.today)}."
    lines = [f"Receivables as of {day(aged.today)} ({plural(aged.count, 'open invoice')}):"]
    for balances in aged.balances:
        buckets = ", ".join(
            f"{_bucket_name(b.label)} {money(b.amount, balances.currency)} ({b.count})"
            for b in balances.buckets
        )
        lines.append(
            f"{balances.currency}: {money(balances.total, balances.currency)} open, "
            f"{money(balances.overdue, balances.currency)} overdue — {buckets}."
        )
    overdue = [c for c in top if any(b.overdue > 0 for b in c.ageing.balances)]
    if overdue:
        lines.append("Owing most past due:")
        for rank, customer in enumerate(overdue, start=1):
            owed = "; ".join(
                f"{money(b.overdue, b.currency)} overdue" for b in customer.ageing.balances
                if b.overdue > 0
            )  # fmt: skip
            lines.append(f"{rank}. {customer.name or customer.customer} — {owed}")
    return "\n".join(lines)


def describe_customer(account: receivables.CustomerReceivables) -> str:
    """A customer's open balance by age, the oldest open invoices, and how they pay."""
    name = account.name or str(account.customer)
    if not account.ageing.balances:
        lines = [f"{name} owes nothing as of {day(account.ageing.today)}."]
    else:
        lines = [f"{name} as of {day(account.ageing.today)}:"]
        for balances in account.ageing.balances:
            buckets = ", ".join(
                f"{_bucket_name(b.label)} {money(b.amount, balances.currency)}"
                for b in balances.buckets
                if b.count
            )
            lines.append(
                f"{money(balances.total, balances.currency)} open in "
                f"{plural(balances.count, 'invoice')} ({buckets})."
            )
        oldest = account.open_invoices[:3]
        lines.append(
            "Oldest open: "
            + ", ".join(f"{i.invoice_number} due {day(i.due_date)}" for i in oldest)
            + "."
        )
    payments = account.payments
    if payments is None:
        lines.append(
            "This ERP keeps no payments against invoices, so payment behaviour is unknown."
        )
    elif payments.average_days_late is None:
        lines.append("No invoice paid in full yet to judge how they pay.")
    else:
        late = payments.average_days_late
        habit = (
            f"{_number(late)} days late on average" if late > 0
            else f"{_number(-late)} days early on average" if late < 0 else "on time on average"
        )  # fmt: skip
        lines.append(
            f"Pays {habit} ({payments.paid_late} of "
            f"{plural(payments.paid_invoices, 'paid invoice')} late)."
        )
    return "\n".join(lines)


def _bucket_name(label: str) -> str:
    return label if label == BUCKETS[0] else f"{label} days"


def _number(value: Decimal | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.1f}".removesuffix(".0")
