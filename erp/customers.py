"""Customer identification: matching what a user typed against a customer's identity factors.

The factors are the mapping's (erp/schema.py): the demo ERP's email and postcode, or e.g.
postcode and phone number for an ERP without emails. Emails compare case-insensitively,
postcodes ignoring case and spaces, phone numbers by their digits, customer numbers
ignoring case and surrounding spaces. Text that is not a valid value of a factor never
matches it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import Session

from erp.errors import InvalidIdentifier
from erp.ids import compact_postcode, looks_like_email, normalise_email
from erp.schema import MappedSchema, schema_for

# Fewer digits than this is not a phone number anyone could be identified by.
MIN_PHONE_DIGITS = 6


def _normalised(factor: str, value: Any) -> str | None:
    """``value`` in the form a factor compares in, or None when it cannot be one."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    text = str(value).strip()
    try:
        if factor == "email":
            return normalise_email(text) if looks_like_email(text) else None
        if factor == "postcode":
            return compact_postcode(text)
        if factor == "phone":
            digits = re.sub(r"\D", "", text)
            return digits if len(digits) >= MIN_PHONE_DIGITS else None
        return text.casefold() or None
    except (InvalidIdentifier, TypeError):
        return None


def factor_matches(factor: str, typed: Any, stored: Any) -> bool:
    """Whether ``typed`` is the stored value of one factor (email, postcode, phone, number)."""
    wanted = _normalised(factor, typed)
    return wanted is not None and wanted == _normalised(factor, stored)


def identity_matches(identity: str, customer: Mapping[str, Any], factors: tuple[str, ...]) -> bool:
    """Return True when ``identity`` is this customer's value of one of ``factors``."""
    return any(factor_matches(factor, identity, customer.get(factor)) for factor in factors)


def _customer(schema: MappedSchema, customer_id: Any, session: Session) -> Mapping[str, Any] | None:
    if customer_id is None:
        return None
    row = session.execute(
        schema.select("customer", "key", *schema.spec.identity).where(
            schema.c("customer", "key") == customer_id
        )
    ).first()
    return None if row is None else dict(row._mapping)


def verify_customer(*, email: str, postcode: str, session: Session) -> int | None:
    """Return the id of the customer with both this email and this postcode.

    Args:
        email: Email address as typed (any case, surrounding spaces allowed).
        postcode: Postcode as typed (any case and spacing).
        session: Open database session.

    Returns:
        The customer's id, or None when no customer has both (including malformed input,
        and an ERP whose identity factors are not email and postcode).
    """
    return find_customer({"email": email, "postcode": postcode}, session=session)


def find_customer(typed: Mapping[str, str], *, session: Session) -> Any:
    """Return the key of the one customer whose identity factors are all ``typed``.

    ``typed`` maps each of the mapping's two identity factors to what the user typed; None
    when a factor is missing or wrong, or when more than one customer would match.
    """
    schema = schema_for(session)
    factors = schema.spec.identity
    if any(_normalised(factor, typed.get(factor)) is None for factor in factors):
        return None
    first = factors[0]
    candidates = session.execute(
        schema.select("customer", "key", *factors).where(_narrowed(schema, first, typed[first]))
    ).all()
    found = [
        row.key
        for row in candidates
        if all(factor_matches(f, typed[f], row._mapping[f]) for f in factors)
    ]
    return found[0] if len(found) == 1 else None


def _narrowed(schema: MappedSchema, factor: str, typed: str) -> Any:
    """A WHERE clause that finds the rows one factor may match, in the database."""
    column = schema.c("customer", factor)
    wanted = _normalised(factor, typed)
    if factor == "email":
        return func.lower(column) == wanted
    if factor == "postcode":
        return func.upper(func.replace(column, " ", "")) == wanted
    if factor == "phone":
        # Formats differ (spaces, dashes, brackets): match the last digits, check in Python.
        assert wanted is not None
        return column.contains(wanted[-4:])
    return func.lower(func.trim(column)) == wanted


def customer_has(
    customer_id: int, *, email: str | None = None, postcode: str | None = None, session: Session
) -> bool:
    """Return True when the customer exists and has every factor given (email, postcode).

    For a conversation that proved one factor of a customer and now gives the other: the
    new factor must belong to that same customer.

    Example:
        >>> customer_has(42, email="Jane@Example.com", session=session)
        True

    Returns:
        False when nothing is given, the customer does not exist, any given factor is
        someone else's or not one of this ERP's factors, or a factor is malformed.
    """
    given = {f: v for f, v in (("email", email), ("postcode", postcode)) if v is not None}
    if not given:
        return False
    schema = schema_for(session)
    if any(factor not in schema.spec.identity for factor in given):
        return False
    customer = _customer(schema, customer_id, session)
    if customer is None:
        return False
    return all(factor_matches(f, typed, customer.get(f)) for f, typed in given.items())


def customer_id_for_email(email: str, *, session: Session) -> int | None:
    """Return the id of the customer with this email (any case), or None.

    Only for callers that may look up any customer (staff); customers verify with
    :func:`verify_customer`. None when the ERP keeps no email addresses.
    """
    schema = schema_for(session)
    address = _normalised("email", email)
    if address is None or not schema.has("customer", "email"):
        return None
    keys = session.scalars(
        schema.select("customer", "key").where(func.lower(schema.c("customer", "email")) == address)
    ).all()
    return keys[0] if len(keys) == 1 else None


def id_if_identity_matches(
    customer_id: int | None, identity: str, *, session: Session
) -> int | None:
    """Return ``customer_id`` when ``identity`` is one of that customer's factors, else None.

    None in, None out: callers pass the owner of a record that may not exist, and get the same
    answer for "no such record" as for "wrong identity".
    """
    schema = schema_for(session)
    customer = _customer(schema, customer_id, session)
    if customer is None or not identity_matches(identity, customer, schema.spec.identity):
        return None
    return customer_id
