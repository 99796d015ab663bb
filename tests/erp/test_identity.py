"""Identity checks: email or postcode must belong to the customer who owns the record."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from erp.customers import verify_customer
from erp.invoices import invoice_customer_if_identity_matches, invoice_owner
from erp.models import Customer, Invoice, SalesOrder
from erp.orders import order_customer_if_identity_matches, order_owner


def _order_and_owner(session: Session) -> tuple[SalesOrder, Customer]:
    order, customer = session.execute(
        select(SalesOrder, Customer)
        .join(Customer, Customer.id == SalesOrder.customer_id)
        .where(Customer.postcode.contains(" "))
        .order_by(SalesOrder.order_number)
        .limit(1)
    ).one()
    return order, customer


def _other_customer(session: Session, customer_id: int) -> Customer:
    return session.scalars(
        select(Customer).where(Customer.id != customer_id).order_by(Customer.id).limit(1)
    ).one()


def _variants(customer: Customer) -> list[str]:
    return [
        customer.email,
        customer.email.upper(),
        f"  {customer.email.title()} ",
        customer.postcode,
        customer.postcode.lower(),
        customer.postcode.replace(" ", ""),
        f" {customer.postcode.replace(' ', '   ').lower()} ",
    ]


def test_order_identity_matches_email_and_postcode_in_any_form(session: Session) -> None:
    order, customer = _order_and_owner(session)
    for identity in _variants(customer):
        found = order_customer_if_identity_matches(order.order_number, identity, session=session)
        assert found == customer.id, identity


def test_order_identity_accepts_loose_order_numbers(session: Session) -> None:
    order, customer = _order_and_owner(session)
    loose = f"my order is #{order.order_number[3:]}"
    assert order_customer_if_identity_matches(loose, customer.email, session=session) == customer.id


@pytest.mark.parametrize(
    "identity",
    ["nobody@example.com", "ZZ99 9ZZ", "", "not an email or postcode", "' OR '1'='1"],
    ids=["wrong-email", "wrong-postcode", "empty", "junk", "injection"],
)
def test_order_identity_wrong_gives_none(session: Session, identity: str) -> None:
    order, _ = _order_and_owner(session)
    assert order_customer_if_identity_matches(order.order_number, identity, session=session) is None


def test_order_identity_of_another_customer_gives_none(session: Session) -> None:
    order, customer = _order_and_owner(session)
    other = _other_customer(session, customer.id)
    for identity in (other.email, other.postcode):
        assert (
            order_customer_if_identity_matches(order.order_number, identity, session=session)
            is None
        )


def test_nonexistent_order_looks_like_wrong_identity(session: Session) -> None:
    _, customer = _order_and_owner(session)
    assert order_customer_if_identity_matches("SO-199999", customer.email, session=session) is None


def test_invoice_identity_matches_only_its_customer(session: Session) -> None:
    invoice, customer = session.execute(
        select(Invoice, Customer).join(Customer, Customer.id == Invoice.customer_id).limit(1)
    ).one()
    other = _other_customer(session, customer.id)
    number = invoice.invoice_number
    for identity in _variants(customer):
        assert (
            invoice_customer_if_identity_matches(number, identity, session=session) == customer.id
        )
    assert invoice_customer_if_identity_matches(number, other.email, session=session) is None
    assert invoice_customer_if_identity_matches(number, other.postcode, session=session) is None
    assert (
        invoice_customer_if_identity_matches("INV-299999", customer.email, session=session) is None
    )


def test_verify_customer_needs_email_and_postcode_of_the_same_customer(session: Session) -> None:
    _, customer = _order_and_owner(session)
    other = _other_customer(session, customer.id)
    email, postcode = customer.email.upper(), customer.postcode.replace(" ", "").lower()
    assert verify_customer(email=email, postcode=postcode, session=session) == customer.id
    assert verify_customer(email=customer.email, postcode=other.postcode, session=session) is None
    assert verify_customer(email=other.email, postcode=customer.postcode, session=session) is None
    assert verify_customer(email="bad", postcode=customer.postcode, session=session) is None


def test_the_owner_of_an_order_or_invoice_is_its_customer_and_nobody_for_an_unknown_one(
    session: Session,
) -> None:
    order, customer = _order_and_owner(session)
    assert order_owner(order.order_number, session=session) == customer.id
    assert order_owner("SO-199999", session=session) is None
    invoice = session.scalars(select(Invoice).where(Invoice.customer_id == customer.id)).first()
    assert invoice is not None
    assert invoice_owner(invoice.invoice_number, session=session) == customer.id
    assert invoice_owner("INV-299999", session=session) is None


# --- what a typed message is, for an ERP's identity factors ---------------------------------


def _spec(identity: str) -> object:
    from erp.mapping.spec import load_mapping
    from erp.schema import DEFAULT_MAPPING

    return load_mapping(DEFAULT_MAPPING.parent / f"{identity}.yml")


@pytest.mark.parametrize(
    ("mapping", "typed", "expected"),
    [
        ("demo", "it's Jane@Example.com thanks", {"email": "Jane@Example.com"}),
        ("demo", "my postcode is m1 4bt", {"postcode": "m1 4bt"}),
        # One guess per message: the value that starts first, whatever else follows.
        ("demo", "a@b.co or c@d.co or M1 4BT", {"email": "a@b.co"}),
        ("northwind", "51100", {"postcode": "51100"}),
        ("northwind", "my phone is 26.47.15.10", {"phone": "26.47.15.10"}),
        ("northwind", "05432-043", {"postcode": "05432-043", "phone": "05432-043"}),
        ("northwind", "hello there", {}),
        ("classicmodels", "S-844 67", {"postcode": "S-844 67"}),
        ("classicmodels", "x" * 500, {}),
    ],
)
def test_typed_factors_read_one_value_per_message(
    mapping: str, typed: str, expected: dict[str, str]
) -> None:
    from erp.customers import typed_factors

    assert typed_factors(typed, _spec(mapping)) == expected  # type: ignore[arg-type]


def test_postcodes_compare_without_spaces_and_dashes_phones_by_digits() -> None:
    from erp.customers import factor_matches

    assert factor_matches("postcode", "s 84467", "S-844 67")
    assert factor_matches("phone", "(069) 5346555", "0695-34 6555")
    assert not factor_matches("phone", "6555", "0695-34 6555")  # too few digits to be one
    assert not factor_matches("postcode", "S-844 68", "S-844 67")
