"""Property-based tests (hypothesis) of every ERP input that reaches a query.

Hostile text (SQL metacharacters, unicode confusables, control characters, emoji, lone
surrogates, 2,000-character strings) goes into the identifier parsers and the query
functions on the seeded demo database. Properties: no exception but the package's own
typed errors; a query returns nothing or exactly the record its input names (never more,
never another); nothing is ever written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from erp.access import Verification, read_verification, sign_verification
from erp.customers import (
    customer_has,
    customer_id_for_email,
    id_if_identity_matches,
    verify_customer,
)
from erp.errors import AccessDenied, InvalidIdentifier, RecordNotFound
from erp.ids import (
    MAX_INPUT_CHARS,
    compact_postcode,
    extract_identity,
    find_identity,
    looks_like_email,
    normalise_email,
    normalise_postcode,
    parse_invoice_number,
    parse_order_number,
    parse_sku,
)
from erp.inventory import find_products, get_stock
from erp.invoices import (
    get_invoice_status,
    invoice_customer_if_identity_matches,
    invoice_owner,
    list_unpaid_invoices,
)
from erp.models import Base, Customer, Invoice, Product, SalesOrder
from erp.orders import get_order_status, order_customer_if_identity_matches, order_owner
from tests.erp.conftest import SEED_TODAY

# The function-scoped fixture (`unchanged`) wraps the whole test, not one example.
PROPERTY = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

FRAGMENTS = (
    "'", '"', ";", "--", "/*", "*/", "%", "_", "\\", "`", "' OR '1'='1", "1 OR 1=1",
    "'; DROP TABLE customers; --", "UNION SELECT email FROM customers", "%' --", "\x00",
    "\x1b[2J", "\r\n", "\t", "\u200b", "\u202e", "\ufeff", "\u00a0", "ＳＯ－１００１２３",
    "ЅО-100123", "ІNV-200123", "ＷＩＤ－１００１", "ℳ1 ４ＢＴ", "😀", "🇬🇧", "👩‍👩‍👧", "\ud83d",
    "SO-100123", "INV-200123", "WID-1001", "so 100123", "#100123", "100123", "200123",
    "orders@example.co.uk", "ORDERS@EXAMPLE.CO.UK", "M1 4BT", "m14bt", "1012 AB", "10115",
    "@", ".", " ", "SO-", "INV-", "SO-%", "INV-_____", "WID-____", "*",
)  # fmt: skip

# Any unicode text, lone surrogates and control characters included.
ANY_CHAR = st.one_of(st.characters(), st.characters(categories=["Cs", "Cc", "Cf", "Zs"]))
hostile = st.one_of(
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(ANY_CHAR, max_size=12)), max_size=8).map(
        "".join
    ),
    st.text(ANY_CHAR, max_size=40),
    # Long inputs: 2,000 characters of one fragment or of anything.
    st.builds(lambda piece, n: (piece * n)[:2000], st.sampled_from(FRAGMENTS), st.just(2000)),
    st.text(ANY_CHAR, min_size=1990, max_size=2000),
)

TABLES = tuple(Base.metadata.sorted_tables)


def row_counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in TABLES
        }


@pytest.fixture
def unchanged(erp_engine: Engine) -> Iterator[Engine]:
    """The engine; after the test, every table must hold exactly the rows it held before."""
    before = row_counts(erp_engine)
    yield erp_engine
    assert row_counts(erp_engine) == before


@pytest.fixture(scope="module")
def records(erp_engine: Engine) -> dict[str, Any]:
    """A few real records to build near-valid inputs from."""
    with Session(erp_engine) as session:
        orders = list(session.scalars(select(SalesOrder).order_by(SalesOrder.order_number)))
        invoices = list(session.scalars(select(Invoice).order_by(Invoice.invoice_number)))
        customers = {c.id: c for c in session.scalars(select(Customer))}
        skus = list(session.scalars(select(Product.sku).order_by(Product.sku)))
        session.expunge_all()
    return {
        "orders": orders[:: max(1, len(orders) // 40)],
        "invoices": invoices[:: max(1, len(invoices) // 40)],
        "customers": customers,
        "skus": skus,
    }


def only_typed_errors(call: Callable[[], Any], *allowed: type[Exception]) -> Any:
    """The call's result, or None when it raised one of the package's typed errors."""
    try:
        return call()
    except (InvalidIdentifier, *allowed):
        return None


# Parsers.

ORDER = re.compile(r"SO-1\d{5}")
INVOICE = re.compile(r"INV-2\d{5}")
SKU = re.compile(r"[A-Z]{3}-\d{4}")
POSTCODE = re.compile(r"[A-Z0-9]+(?: [A-Z0-9]+)?")


@PROPERTY
@given(text=hostile)
def test_parsers_return_a_canonical_value_or_say_why(text: str) -> None:
    for parse, shape in (
        (parse_order_number, ORDER),
        (parse_invoice_number, INVOICE),
        (parse_sku, SKU),
        (normalise_postcode, POSTCODE),
    ):
        value = only_typed_errors(lambda parse=parse: parse(text))
        if value is not None:
            assert shape.fullmatch(value), (parse.__name__, text, value)
            assert parse(value) == value  # canonical: parsing again changes nothing
            assert len(value) <= 16
    email = only_typed_errors(lambda: normalise_email(text))
    if email is not None:
        assert email == email.lower() and email.isascii() and "@" in email
        assert normalise_email(email) == email
    assert looks_like_email(text) == (email is not None)


@PROPERTY
@given(text=hostile)
def test_identity_extraction_never_raises_and_stays_short(text: str) -> None:
    found = extract_identity(text)

    if found is not None:
        assert len(found) <= MAX_INPUT_CHARS
        assert found.isascii()
        assert not any(unicodedata.category(c) == "Cc" for c in found)
    assert find_identity(text) == (found or text)
    compact = only_typed_errors(lambda: compact_postcode(text))
    assert compact is None or " " not in compact


# Queries: nothing, or exactly the record the input names.


@PROPERTY
@given(text=hostile)
def test_owner_lookups_find_only_the_named_record(unchanged: Engine, text: str) -> None:
    with Session(unchanged) as session:
        for owner, parse, model in (
            (order_owner, parse_order_number, SalesOrder),
            (invoice_owner, parse_invoice_number, Invoice),
        ):
            found = only_typed_errors(lambda owner=owner: owner(text, session=session))
            if found is not None:
                record = session.get(model, parse(text))
                assert record is not None and record.customer_id == found


@PROPERTY
@given(number=hostile, identity=hostile)
def test_identity_checks_never_match_hostile_text(
    unchanged: Engine, number: str, identity: str
) -> None:
    with Session(unchanged) as session:
        for check, parse, model in (
            (order_customer_if_identity_matches, parse_order_number, SalesOrder),
            (invoice_customer_if_identity_matches, parse_invoice_number, Invoice),
        ):
            matched = only_typed_errors(
                lambda check=check: check(number, identity, session=session)
            )
            if matched is not None:
                # Only a real record's owner, and only for that owner's own email or postcode.
                record = session.get(model, parse(number))
                assert record is not None and record.customer_id == matched
                assert _is_identity_of(identity, session.get(Customer, matched))


def _is_identity_of(identity: str, customer: Customer | None) -> bool:
    if customer is None:
        return False
    try:
        if looks_like_email(identity):
            return normalise_email(identity) == customer.email.lower()
        return compact_postcode(identity) == compact_postcode(customer.postcode)
    except InvalidIdentifier:
        return False


def _variants(value: str) -> st.SearchStrategy[str]:
    """``value`` as a customer might type it, and near misses of it."""
    return st.sampled_from(
        [
            value,
            value.upper(),
            value.lower(),
            f"  {value}  ",
            value.replace(" ", ""),
            value.replace(" ", "  "),
            value[:-1],
            value + "%",
            value + "'--",
            "%" + value[1:],
            value.replace("o", "о").replace("a", "а"),  # Cyrillic look-alikes
            value + "\u200b",
        ]
    )


@PROPERTY
@given(data=st.data())
def test_identity_checks_match_exactly_the_owners_email_or_postcode(
    unchanged: Engine, records: dict[str, Any], data: st.DataObject
) -> None:
    order: SalesOrder = data.draw(st.sampled_from(records["orders"]))
    owner: Customer = records["customers"][order.customer_id]
    other: Customer = data.draw(st.sampled_from(list(records["customers"].values())))
    identity = data.draw(
        st.one_of(
            _variants(owner.email),
            _variants(owner.postcode),
            _variants(other.email),
            _variants(other.postcode),
            hostile,
        )
    )
    number = data.draw(_variants(order.order_number))
    with Session(unchanged) as session:
        matched = only_typed_errors(
            lambda: order_customer_if_identity_matches(number, identity, session=session)
        )
        expected = owner.id if _is_identity_of(identity, owner) else None
        if only_typed_errors(lambda: parse_order_number(number)) != order.order_number:
            expected = matched  # the near miss named another order (or none): checked above
        assert matched == expected
        assert id_if_identity_matches(owner.id, identity, session=session) == (
            owner.id if _is_identity_of(identity, owner) else None
        )


@PROPERTY
@given(data=st.data())
def test_verify_customer_needs_email_and_postcode_of_one_customer(
    unchanged: Engine, records: dict[str, Any], data: st.DataObject
) -> None:
    customers = list(records["customers"].values())
    first: Customer = data.draw(st.sampled_from(customers))
    second: Customer = data.draw(st.sampled_from(customers))
    email = data.draw(st.one_of(_variants(first.email), hostile))
    postcode = data.draw(st.one_of(_variants(second.postcode), hostile))
    with Session(unchanged) as session:
        found = verify_customer(email=email, postcode=postcode, session=session)
        by_email = customer_id_for_email(email, session=session)
        if found is not None:
            customer = session.get(Customer, found)
            assert customer is not None and found == by_email
            assert _is_identity_of(email, customer) and _is_identity_of(postcode, customer)
            assert customer_has(found, email=email, postcode=postcode, session=session)
        elif by_email is not None:
            assert not _is_identity_of(postcode, session.get(Customer, by_email))
        if by_email is not None:
            customer = session.get(Customer, by_email)
            assert customer is not None and customer.email == normalise_email(email)


@PROPERTY
# Customer ids come from signed verification records, never from a user; any 32-bit value
# (the column's range on every backend) must still get nothing but its own records.
@given(text=hostile, customer_id=st.integers(min_value=-(2**31), max_value=2**31 - 1))
def test_status_queries_answer_only_the_customers_own_record(
    unchanged: Engine, text: str, customer_id: int
) -> None:
    with Session(unchanged) as session:
        order = only_typed_errors(
            lambda: get_order_status(text, customer_id=customer_id, session=session),
            RecordNotFound,
            AccessDenied,
        )
        if order is not None:
            record = session.get(SalesOrder, order.order_number)
            assert record is not None and record.customer_id == customer_id
            assert order.order_number == parse_order_number(text)
        invoice = only_typed_errors(
            lambda: get_invoice_status(
                text, customer_id=customer_id, today=SEED_TODAY, session=session
            ),
            RecordNotFound,
            AccessDenied,
        )
        if invoice is not None:
            bill = session.get(Invoice, invoice.invoice_number)
            assert bill is not None and bill.customer_id == customer_id
        unpaid = list_unpaid_invoices(customer_id=customer_id, today=SEED_TODAY, session=session)
        for status in unpaid:
            bill = session.get(Invoice, status.invoice_number)
            assert bill is not None and bill.customer_id == customer_id


@PROPERTY
@given(data=st.data())
def test_status_of_a_real_record_is_refused_to_every_other_customer(
    unchanged: Engine, records: dict[str, Any], data: st.DataObject
) -> None:
    order: SalesOrder = data.draw(st.sampled_from(records["orders"]))
    asker = data.draw(st.sampled_from(sorted(records["customers"])))
    number = data.draw(_variants(order.order_number))
    with Session(unchanged) as session:
        try:
            status = get_order_status(number, customer_id=asker, session=session)
        except (InvalidIdentifier, RecordNotFound, AccessDenied):
            status = None
        named = only_typed_errors(lambda: parse_order_number(number))
        if named == order.order_number:
            assert (status is not None) == (asker == order.customer_id)
        if status is not None:
            assert status.order_number == named


@PROPERTY
@given(query=hostile, limit=st.integers(min_value=1, max_value=10))
def test_product_search_returns_only_real_products(
    unchanged: Engine, records: dict[str, Any], query: str, limit: int
) -> None:
    with Session(unchanged) as session:
        matches = find_products(query, session=session, limit=limit)
        assert len(matches) <= limit
        for match in matches:
            product = session.get(Product, match.sku)
            assert product is not None and product.name == match.name
            assert 0 <= match.score <= 100
        stock = only_typed_errors(
            lambda: get_stock(query, today=SEED_TODAY, session=session), RecordNotFound
        )
        if stock is not None:
            assert stock.sku == parse_sku(query) and stock.sku in records["skus"]


@PROPERTY
@given(data=st.data())
def test_an_exact_sku_finds_just_that_product(
    unchanged: Engine, records: dict[str, Any], data: st.DataObject
) -> None:
    sku: str = data.draw(st.sampled_from(records["skus"]))
    typed = data.draw(
        st.sampled_from([sku, sku.lower(), sku.replace("-", ""), sku.replace("-", " "), f" {sku} "])
    )
    with Session(unchanged) as session:
        matches = find_products(typed, session=session)
    assert [m.sku for m in matches] == [sku]


# Verification records: what a client may put in the slot is read as "not verified".

SECRET = b"property-test-verification-secret"


@PROPERTY
@given(token=st.one_of(hostile, st.integers(), st.none(), st.lists(hostile, max_size=3)))
def test_no_text_a_client_writes_reads_as_a_verification(token: object) -> None:
    assert read_verification(token, secret=SECRET, conversation_id="web:k", now=0.0) is None


@PROPERTY
@given(data=st.data())
def test_no_change_to_a_signed_verification_proves_something_else(data: st.DataObject) -> None:
    proof = Verification(
        "web:k",
        data.draw(st.integers(1, 10**6)),
        frozenset({"postcode"}),
        frozenset({"SO-100123"}),
        2e9,
    )
    token = sign_verification(proof, secret=SECRET)
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.characters(codec="ascii").filter(lambda c: c != token[position]))
    forged = token[:position] + replacement + token[position + 1 :]

    assert read_verification(token, secret=SECRET, conversation_id="web:k", now=0.0) == proof
    # A change of the signature's unused base64 bits still decodes to the same signature:
    # harmless, as long as no change ever proves a different verification.
    assert read_verification(forged, secret=SECRET, conversation_id="web:k", now=0.0) in (
        None,
        proof,
    )
    assert read_verification(token, secret=SECRET, conversation_id="web:other", now=0.0) is None
