"""Customer identification: matching what a user typed against a customer's email or postcode."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from erp.errors import InvalidIdentifier
from erp.ids import compact_postcode, looks_like_email, normalise_email
from erp.models import Customer


def identity_matches(identity: str, customer: Customer) -> bool:
    """Return True when ``identity`` is this customer's email or postcode.

    Emails compare case-insensitively, postcodes ignoring case and spaces. Text that is
    neither a valid email nor a valid postcode never matches.
    """
    try:
        if looks_like_email(identity):
            return normalise_email(identity) == customer.email.lower()
        return compact_postcode(identity) == compact_postcode(customer.postcode)
    except (InvalidIdentifier, TypeError):
        return False


def verify_customer(*, email: str, postcode: str, session: Session) -> int | None:
    """Return the id of the customer with both this email and this postcode.

    Args:
        email: Email address as typed (any case, surrounding spaces allowed).
        postcode: Postcode as typed (any case and spacing).
        session: Open database session.

    Returns:
        The customer's id, or None when no customer has both (including malformed input).
    """
    try:
        address = normalise_email(email)
        wanted = compact_postcode(postcode)
    except (InvalidIdentifier, TypeError):
        return None
    customer = session.scalars(select(Customer).where(Customer.email == address)).one_or_none()
    if customer is None or compact_postcode(customer.postcode) != wanted:
        return None
    return customer.id


def customer_has(
    customer_id: int, *, email: str | None = None, postcode: str | None = None, session: Session
) -> bool:
    """Return True when the customer exists and has every factor given (email, postcode).

    For a conversation that proved one factor of a customer and now gives the other: the
    new factor must belong to that same customer.

    Example:
        >>> customer_has(42, email="Jane@Example.com", session=session)
        True

    Args:
        customer_id: The customer the conversation is verified for.
        email: Email address as typed (any case), or None to not check it.
        postcode: Postcode as typed (any case and spacing), or None to not check it.
        session: Open database session.

    Returns:
        False when nothing is given, the customer does not exist, any given factor is
        someone else's, or a factor is malformed.
    """
    if email is None and postcode is None:
        return False
    try:
        address = normalise_email(email) if email is not None else None
        wanted = compact_postcode(postcode) if postcode is not None else None
    except (InvalidIdentifier, TypeError):
        return False
    customer = session.scalars(select(Customer).where(Customer.id == customer_id)).one_or_none()
    if customer is None:
        return False
    if address is not None and customer.email.lower() != address:
        return False
    return wanted is None or compact_postcode(customer.postcode) == wanted


def customer_id_for_email(email: str, *, session: Session) -> int | None:
    """Return the id of the customer with this email (any case), or None.

    Only for callers that may look up any customer (staff); customers verify with
    :func:`verify_customer`.
    """
    try:
        address = normalise_email(email)
    except (InvalidIdentifier, TypeError):
        return None
    return session.scalars(select(Customer.id).where(Customer.email == address)).one_or_none()


def id_if_identity_matches(
    customer_id: int | None, identity: str, *, session: Session
) -> int | None:
    """Return ``customer_id`` when ``identity`` is that customer's email or postcode, else None.

    None in, None out: callers pass the owner of a record that may not exist, and get the same
    answer for "no such record" as for "wrong identity".
    """
    customer = session.get(Customer, customer_id) if customer_id is not None else None
    if customer is None or not identity_matches(identity, customer):
        return None
    return customer.id
