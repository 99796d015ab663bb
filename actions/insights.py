"""Staff insights: a product's stock-out forecast, receivables ageing, a customer's balance.

For staff only, each by its role (`actions.staff`): warehouse (and admin) the forecast,
finance (and admin) receivables. A customer asking is told these are internal, and nothing
is read. Answers are in the conversation's language (i18n/messages/insights.yml: staff may
write Chinese in Slack); a customer is named by email address or customer number, in
English ("balance of customer 1042") or Chinese ("客户 1042 的余额").
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import charts
from actions.base import AnswerAction
from actions.erp_calls import erp_call, today
from actions.inventory import ValidateStockForm
from actions.staff import staff_refusal
from actions.verification import first_text, form_ended_events, is_staff
from erp import customers, forecast, receivables
from erp.errors import RecordNotFound
from erp.receivables import BUCKETS, Ageing
from i18n.formatting import count, day, money
from i18n.texts import current_language, messages, say

logger = logging.getLogger(__name__)

TOP_CUSTOMERS = 5
# An email address; Chinese around it ("查一下anna@example.com的余额") is not part of it.
_EMAIL = re.compile(
    r"[^\s@<>(),;:\"'\u3000-\u303f\u3400-\u9fff\uff00-\uffef]+@"
    r"[^\s@<>(),;:\"'\u3000-\u303f\u3400-\u9fff\uff00-\uffef]+\.[A-Za-z]{2,}"
)
_CUSTOMER_NUMBER = re.compile(
    r"\bcustomer\s*(?:no\.?|number|#|id)?\s*(\d{1,12})\b"
    # 客户 1042, 客户编号：1042, 顾客号1042, 1042号客户
    r"|(?:客户|顾客)\s*(?:编号|号码|号|ID|id)?\s*[:：#＃]?\s*(\d{1,12})(?!\d)"
    r"|(?<!\d)(\d{1,12})\s*号(?:客户|顾客)",
    re.I,
)


def insight_refusal(tracker: Tracker, area: str) -> str | None:
    """Why this sender may not see ``area``: a customer never, staff by their roles."""
    if not is_staff(tracker):
        return say("insight.internal")
    return staff_refusal(tracker, area)


class StaffInsight(AnswerAction):
    """An answer for staff whose roles cover ``staff_area``; refused to customers."""

    staff_area: ClassVar[str | None]

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if not is_staff(tracker):
            dispatcher.utter_message(text=say("insight.internal"))
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
            return form_ended_events()
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
        result, history = await erp_call(forecast.forecast_with_history, sku, today=day_)
        text = describe_forecast(result)
        dispatcher.utter_message(text=text)
        title = say("insight.forecast_chart", sku=result.sku, name=result.name)
        # The chart's words for a reader who cannot see it: the answer itself in Chinese.
        alt = result.summary if current_language() == "en" else text
        await send_chart(dispatcher, title, alt, charts.forecast_chart, result, history)
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
            title = say("insight.ageing_chart", day=day(day_, current_language()))
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
            nobody = say("invoices.no_customer", factor=say("factor.email"), value=email)
        elif number:
            digits = next(group for group in number.groups() if group)
            key = await erp_call(customers.customer_id_for_number, digits)
            nobody = say("invoices.no_customer", factor=say("factor.number"), value=digits)
        else:
            dispatcher.utter_message(text=say("insight.which_customer"))
            return []
        if key is None:
            dispatcher.utter_message(text=nobody)
            return []
        try:
            account = await erp_call(receivables.customer_receivables, key, today=today())
        except RecordNotFound:
            dispatcher.utter_message(text=nobody)
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


# --- texts (in the language of the conversation) ------------------------------------------


def describe_forecast(result: forecast.StockoutForecast) -> str:
    """A colleague's answer: stock, demand, the expected stock-out with its range, supply,
    and the reorder suggestion."""
    language = current_language()
    parts = [
        say("insight.forecast_stock", sku=result.sku, name=result.name,
            available=result.available, on_hand=result.on_hand)
    ]  # fmt: skip
    demand = result.demand
    if result.stockout_date is None:
        parts.append(say("insight.forecast_no_sales"))
    else:
        method = f"insight.method.{demand.method}"
        parts.append(
            say(
                "insight.forecast_demand",
                daily=_number(demand.daily),
                low=_number(demand.low),
                high=_number(demand.high),
                method=say(method) if method in messages() else demand.method,
                weeks=count(demand.weeks, "week", language, measure="周"),
            )
        )
        latest = (
            day(result.stockout_latest, language)
            if result.stockout_latest
            else say("insight.forecast_never")
        )
        earliest = day(result.stockout_earliest or result.stockout_date, language)
        cover = (
            say("insight.forecast_cover", days=_number(result.days_of_cover))
            if result.days_of_cover
            else ""
        )
        parts.append(
            say("insight.forecast_stockout", date=day(result.stockout_date, language),
                cover=cover, earliest=earliest, latest=latest)
        )  # fmt: skip
    if result.incoming:
        supply = _separator(", ", "；").join(
            say("insight.forecast_supply", reference=s.reference, quantity=s.quantity,
                eta=day(s.eta, language) if s.eta else say("insight.forecast_no_date"))
            for s in result.incoming
        )  # fmt: skip
        parts.append(say("insight.forecast_incoming", supply=supply))
    else:
        parts.append(say("insight.forecast_no_supply"))
    source = say(
        "insight.forecast_source_erp"
        if result.reorder_point_source == "erp"
        else "insight.forecast_source_computed"
    )
    if result.reorder is not None:
        parts.append(
            say("insight.forecast_reorder", point=result.reorder_point, source=source,
                position=result.reorder.position, quantity=result.reorder.quantity)
        )  # fmt: skip
    else:
        parts.append(say("insight.forecast_no_reorder", point=result.reorder_point, source=source))
    return _separator(" ", "").join(parts)


def describe_ageing(aged: Ageing, top: list[receivables.CustomerAgeing]) -> str:
    """Open receivables per currency by age bucket, then the customers owing most past due."""
    language = current_language()
    if not aged.balances:
        return say("insight.ageing_nothing", day=day(aged.today, language))
    invoices = count(aged.count, "open invoice", language, measure=" 张未结发票")
    lines = [say("insight.ageing_head", day=day(aged.today, language), invoices=invoices)]
    for balances in aged.balances:
        buckets = _separator(", ", "，").join(
            say("insight.ageing_bucket", bucket=_bucket_name(b.label),
                amount=money(b.amount, balances.currency, language), count=b.count)
            for b in balances.buckets
        )  # fmt: skip
        lines.append(
            say(
                "insight.ageing_currency",
                currency=balances.currency,
                total=money(balances.total, balances.currency, language),
                overdue=money(balances.overdue, balances.currency, language),
                buckets=buckets,
            )
        )
    overdue = [c for c in top if any(b.overdue > 0 for b in c.ageing.balances)]
    if overdue:
        lines.append(say("insight.ageing_top"))
        for rank, customer in enumerate(overdue, start=1):
            owed = _separator("; ", "；").join(
                say("insight.ageing_owed", amount=money(b.overdue, b.currency, language))
                for b in customer.ageing.balances
                if b.overdue > 0
            )
            lines.append(f"{rank}. {customer.name or customer.customer} — {owed}")
    return "\n".join(lines)


def describe_customer(account: receivables.CustomerReceivables) -> str:
    """A customer's open balance by age, the oldest open invoices, and how they pay."""
    language = current_language()
    name = account.name or str(account.customer)
    today_ = day(account.ageing.today, language)
    if not account.ageing.balances:
        lines = [say("insight.owes_nothing", name=name, day=today_)]
    else:
        lines = [say("insight.balance_head", name=name, day=today_)]
        for balances in account.ageing.balances:
            buckets = _separator(", ", "，").join(
                f"{_bucket_name(b.label)} {money(b.amount, balances.currency, language)}"
                for b in balances.buckets
                if b.count
            )
            lines.append(
                say(
                    "insight.balance_currency",
                    total=money(balances.total, balances.currency, language),
                    invoices=count(balances.count, "invoice", language, measure=" 张发票"),
                    buckets=buckets,
                )
            )
        oldest = account.open_invoices[:3]
        listed = _separator(", ", "、").join(
            say("insight.oldest_invoice", number=i.invoice_number, day=day(i.due_date, language))
            for i in oldest
        )
        lines.append(say("insight.oldest_open", invoices=listed))
    payments = account.payments
    if payments is None:
        lines.append(say("insight.payments_unknown"))
    elif payments.average_days_late is None:
        lines.append(say("insight.payments_none_yet"))
    else:
        late = payments.average_days_late
        habit = (
            say("insight.pays_late", days=_number(late)) if late > 0
            else say("insight.pays_early", days=_number(-late)) if late < 0
            else say("insight.pays_on_time")
        )  # fmt: skip
        paid = count(payments.paid_invoices, "paid invoice", language, measure=" 张已付发票")
        lines.append(say("insight.pays", habit=habit, late=payments.paid_late, paid=paid))
    return "\n".join(lines)


def _bucket_name(label: str) -> str:
    if label == BUCKETS[0]:
        return say("insight.bucket_current")
    return say("insight.bucket_days", label=label)


def _separator(english: str, chinese: str) -> str:
    """What separates listed parts in this turn's language."""
    return chinese if current_language() == "zh" else english


def _number(value: Decimal | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.1f}".removesuffix(".0")
