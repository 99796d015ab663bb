"""Real conversations over the gateway with the assistant switched to other companies' ERPs
by configuration alone (ERP_MAPPING + ERP_DATABASE_URL): Northwind on SQLite (read-only)
and classicmodels on MariaDB (a user that may only SELECT)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Assistant, start_assistant
from tests.erp.test_mapping_check import MAPPINGS, NORTHWIND, classicmodels_reader, need

__all__ = ["classicmodels_reader"]

pytestmark = pytest.mark.e2e

CANT_VERIFY = "can't verify those details"


@pytest.fixture(scope="module")
def northwind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    settings = {
        "ERP_MAPPING": str(MAPPINGS / "northwind.yml"),
        "ERP_DATABASE_URL": f"sqlite:///{need(NORTHWIND)}",
    }
    with start_assistant(tmp_path_factory.mktemp("northwind"), settings) as running:
        yield running


@pytest.fixture(scope="module")
def classicmodels(
    tmp_path_factory: pytest.TempPathFactory, classicmodels_reader: str
) -> Iterator[Assistant]:
    settings = {
        "ERP_MAPPING": str(MAPPINGS / "classicmodels.yml"),
        "ERP_DATABASE_URL": classicmodels_reader,
    }
    with start_assistant(tmp_path_factory.mktemp("classicmodels"), settings) as running:
        yield running


def test_northwind_order_status_with_its_postcode(northwind: Assistant) -> None:
    first = northwind.texts("nw-order", "where is my order 10248?")
    assert "postcode or the phone number of the customer on that order" in first, first
    reply = northwind.texts("nw-order", "51100")
    assert "10248" in reply and "shipped" in reply, reply
    assert "16 Jul 2016" in reply and "Federal Shipping" in reply, reply


def test_northwind_asks_for_the_number_in_its_own_format(northwind: Assistant) -> None:
    first = northwind.texts("nw-ask", "I want to check on an order")
    assert "looks like 10248" in first, first
    asked = northwind.texts("nw-ask", "10248")
    assert "postcode or the phone number" in asked, asked
    reply = northwind.texts("nw-ask", "my phone is 26.47.15.10")
    assert "shipped" in reply and "16 Jul 2016" in reply, reply


def test_a_wrong_identity_on_northwind_reveals_nothing(northwind: Assistant) -> None:
    northwind.texts("nw-wrong", "where is my order 10248?")
    reply = northwind.texts("nw-wrong", "12209")  # another customer's postcode
    assert CANT_VERIFY in reply, reply
    assert "shipped" not in reply and "Federal" not in reply and "2016" not in reply


def test_northwind_stock_by_product_name(northwind: Assistant) -> None:
    reply = northwind.texts("nw-stock", "is Chai in stock?")
    assert "Chai" in reply and "39" in reply, reply


def test_northwind_invoice_question_is_answered_as_not_available(northwind: Assistant) -> None:
    reply = northwind.texts("nw-invoice", "is my invoice paid?")
    assert "can't answer questions about invoices here" in reply, reply


@pytest.mark.integration
def test_classicmodels_order_status_with_its_phone_number(classicmodels: Assistant) -> None:
    first = classicmodels.texts("cm-order", "what's the status of order 10164?")
    assert "postcode or the phone number" in first, first
    reply = classicmodels.texts("cm-order", "7675-3555")
    assert "10164" in reply and "delivered" in reply, reply


@pytest.mark.integration
def test_classicmodels_wrong_identity_reveals_nothing(classicmodels: Assistant) -> None:
    classicmodels.texts("cm-wrong", "what's the status of order 10100?")
    reply = classicmodels.texts("cm-wrong", "7675-3555")  # customer 452's phone, not 363's
    assert CANT_VERIFY in reply and "shipped" not in reply and "2003" not in reply, reply


@pytest.mark.integration
def test_classicmodels_account_question_lists_payments_after_both_factors(
    classicmodels: Assistant,
) -> None:
    first = classicmodels.texts("cm-pay", "do I have any unpaid invoices?")
    assert "postcode" in first, first
    second = classicmodels.texts("cm-pay", "62005")
    assert "phone number" in second, second
    reply = classicmodels.texts("cm-pay", "603 555 8647")
    assert "We keep no invoices" in reply and "3 payments" in reply, reply
    assert "$116,449.29" in reply, reply


@pytest.mark.integration
def test_classicmodels_stock_by_product_name(classicmodels: Assistant) -> None:
    reply = classicmodels.texts(
        "cm-stock", "is the 1969 Harley Davidson Ultimate Chopper in stock?"
    )
    assert "Harley Davidson Ultimate Chopper" in reply and "7933 available" in reply, reply
