"""The conversation on other companies' ERPs, switched by ERP_MAPPING alone: the questions
show the ERP's number format and identity factors, numbers are read in its format, and a
concept it does not keep is answered as such. Northwind on SQLite, classicmodels on MariaDB
(a SELECT-only user)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.invoices import (
    ActionAskInvoiceIdentity,
    ActionListUnpaidInvoices,
    ValidateInvoiceForm,
    ValidateUnpaidInvoicesForm,
)
from actions.orders import (
    ActionAskOrderIdentity,
    ActionAskOrderNumber,
    ActionOrderStatus,
    ValidateOrderForm,
)
from actions.verification import not_verified
from erp.db import reset_engine_cache
from erp.schema import forget_schemas
from tests.actions.conftest import as_staff, proof_in, texts, tracker, verified
from tests.erp.test_mapping_check import MAPPINGS, NORTHWIND, classicmodels_reader, need

__all__ = ["classicmodels_reader"]


def use_erp(monkeypatch: pytest.MonkeyPatch, mapping: str, url: str) -> Iterator[None]:
    monkeypatch.setenv("ERP_MAPPING", str(MAPPINGS / mapping))
    monkeypatch.setenv("ERP_DATABASE_URL", url)
    reset_engine_cache()
    forget_schemas()
    yield
    reset_engine_cache()
    forget_schemas()


@pytest.fixture
def northwind(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from use_erp(monkeypatch, "northwind.yml", f"sqlite:///{need(NORTHWIND)}")


@pytest.fixture
def classicmodels(monkeypatch: pytest.MonkeyPatch, classicmodels_reader: str) -> Iterator[None]:
    yield from use_erp(monkeypatch, "classicmodels.yml", classicmodels_reader)


async def said(action: object, state: object = None, domain: dict | None = None) -> str:
    dispatcher = CollectingDispatcher()
    await action.run(dispatcher, state or tracker(), domain or {})  # type: ignore[attr-defined]
    return texts(dispatcher)


async def test_northwind_questions_use_its_number_format_and_factors(northwind: None) -> None:
    assert "looks like 10248" in await said(ActionAskOrderNumber())
    asked = await said(ActionAskOrderIdentity())
    assert "postcode or the phone number of the customer on that order" in asked
    assert "email" not in asked


async def test_a_northwind_order_number_in_the_first_message_is_read(
    northwind: None, domain: dict
) -> None:
    form = ValidateOrderForm()
    found = await form.extract_order_number(
        CollectingDispatcher(), tracker(text="where is my order 10248?"), domain
    )
    assert found == {"order_number": "10248"}
    none = await form.extract_order_number(
        CollectingDispatcher(), tracker(text="where is my order?"), domain
    )
    assert none == {}


@pytest.mark.parametrize(
    ("typed", "factor"),
    [("my postcode is 51100", "postcode"), ("26.47.15.10", "phone"), ("it's 26 47 15 10", "phone")],
)
async def test_northwind_verifies_by_postcode_or_phone_and_answers(
    northwind: None, domain: dict, typed: str, factor: str
) -> None:
    state = tracker({"order_number": "10248", "identity": typed}, text=typed)
    result = await ValidateOrderForm().validate_identity(
        typed, CollectingDispatcher(), state, domain
    )
    proof = proof_in(result)
    assert proof is not None and proof.customer_id == "VINET" and proof.factors == {factor}

    answer = await said(ActionOrderStatus(), tracker({"order_number": "10248", **result}), domain)
    assert "10248" in answer and "shipped" in answer and "16 Jul 2016" in answer
    assert "Federal Shipping" in answer


async def test_someone_else_s_northwind_postcode_reveals_nothing(
    northwind: None, domain: dict
) -> None:
    dispatcher = CollectingDispatcher()
    state = tracker({"order_number": "10248", "identity": "12209"}, text="12209")  # ALFKI's
    result = await ValidateOrderForm().validate_identity("12209", dispatcher, state, domain)
    assert result == {"identity": None, "verification_attempts": 1}
    assert texts(dispatcher) == not_verified()
    assert "postcode or phone number" in not_verified()


async def test_the_order_number_typed_again_is_not_a_guess(northwind: None, domain: dict) -> None:
    # Northwind's 5-digit order numbers look like postcodes to the NLU.
    dispatcher = CollectingDispatcher()
    state = tracker(
        {"order_number": "10248", "identity": "10248"}, text="10248", requested_slot="order_number"
    )
    result = await ValidateOrderForm().validate_identity("10248", dispatcher, state, domain)
    assert result == {"identity": None} and texts(dispatcher) == ""


async def test_invoice_questions_on_northwind_are_answered_as_not_kept(
    northwind: None, domain: dict
) -> None:
    dispatcher = CollectingDispatcher()
    await ValidateInvoiceForm().run(
        dispatcher, tracker(text="is invoice 10248 paid?", active_loop="invoice_form"), domain
    )
    assert "can't answer questions about invoices here" in texts(dispatcher)
    unpaid = CollectingDispatcher()
    await ValidateUnpaidInvoicesForm().run(
        unpaid, tracker(active_loop="unpaid_invoices_form"), domain
    )
    assert "can't answer questions about invoices here" in texts(unpaid)


async def test_northwind_staff_name_a_customer_by_customer_number(
    northwind: None, domain: dict
) -> None:
    form = ValidateUnpaidInvoicesForm()
    state = as_staff(tracker())
    # Northwind keeps no invoices: even staff are told so.
    with pytest.raises(Exception, match="invoice"):
        await form.required_slots([], CollectingDispatcher(), state, domain)


@pytest.mark.integration
async def test_classicmodels_account_question_verifies_both_factors_and_lists_payments(
    classicmodels: None, domain: dict
) -> None:
    form = ValidateUnpaidInvoicesForm()
    asked = await form.required_slots([], CollectingDispatcher(), tracker(), domain)
    assert asked == ["postcode", "phone"]
    first = await form.validate_postcode("62005", CollectingDispatcher(), tracker(), domain)
    assert first == {"postcode": "62005"}
    wrong = CollectingDispatcher()
    refused = await form.validate_phone(
        "+49 69 66 90 2555", wrong, tracker({"postcode": "62005"}, text="+49 69 66 90 2555"), domain
    )
    assert proof_in(refused) is None and texts(wrong) == not_verified()
    state = tracker({"postcode": "62005"}, text="my phone is 603 555 8647")
    result = await form.validate_phone("603 555 8647", CollectingDispatcher(), state, domain)
    proof = proof_in(result)
    assert proof is not None and proof.customer_id == 363 and proof.factors == {"postcode", "phone"}

    answer = await said(ActionListUnpaidInvoices(), tracker(result), domain)
    assert "We keep no invoices" in answer and "3 payments" in answer
    assert "$116,449.29" in answer and "5 Dec 2003: $55,425.77 (ref. PN238558)" in answer


@pytest.mark.integration
async def test_classicmodels_order_verified_by_phone_answers_in_its_statuses(
    classicmodels: None, domain: dict
) -> None:
    asked = await said(ActionAskInvoiceIdentity())
    assert "postcode or the phone number" in asked
    state = tracker({"order_number": "10164", "identity": "7675-3555"}, text="7675-3555")
    result = await ValidateOrderForm().validate_identity(
        "7675-3555", CollectingDispatcher(), state, domain
    )
    answer = await said(ActionOrderStatus(), tracker({"order_number": "10164", **result}), domain)
    assert "10164" in answer and "delivered" in answer  # classicmodels' "Resolved"
    other = await said(
        ActionOrderStatus(), tracker({"order_number": "10100", **verified(452, "phone")}), domain
    )
    assert "can't find that for your account" in other and "shipped" not in other


async def test_twenty_customers_at_once_through_a_small_pool(
    monkeypatch: pytest.MonkeyPatch, northwind: None, domain: dict
) -> None:
    # 20 customers verify and ask about their first order at once, through 2 pooled
    # connections (+2 at peaks): each waits its turn for a connection; none fails, each is
    # verified as themselves (Brazilian, Swedish and Belgian postcodes included) and sees
    # only their own order.
    import asyncio
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(f"file:{NORTHWIND}?mode=ro", uri=True)) as db:
        people = db.execute(
            "SELECT min(o.OrderID), c.CustomerID, c.PostalCode FROM Orders o JOIN Customers c "
            "ON c.CustomerID = o.CustomerID WHERE c.PostalCode IS NOT NULL "
            "GROUP BY c.CustomerID ORDER BY 1 LIMIT 20"
        ).fetchall()
    monkeypatch.setenv("ERP_POOL_SIZE", "2")
    reset_engine_cache()

    async def one(number: str, postcode: str) -> tuple[object, str]:
        sender = f"nw-{number}"
        typed = f"my postcode is {postcode}"
        state = tracker({"order_number": number, "identity": typed}, text=typed, sender_id=sender)
        result = await ValidateOrderForm().validate_identity(
            typed, CollectingDispatcher(), state, domain
        )
        asked = tracker({"order_number": number, **result}, sender_id=sender)
        return proof_in(result, sender_id=sender), await said(ActionOrderStatus(), asked)

    done = await asyncio.gather(*(one(str(n), postcode) for n, _, postcode in people))
    assert len(done) == 20
    for (number, customer, _), (proof, answer) in zip(people, done, strict=True):
        assert proof is not None and proof.customer_id == customer, (customer, answer)
        assert f"Order {number}" in answer or str(number) in answer
        assert not any(str(other) in answer for other, _, _ in people if other != number)
